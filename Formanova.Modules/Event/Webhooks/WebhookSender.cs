using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Formanova.Modules.Event.Log;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Event.Webhooks;

internal sealed record SendResult(DeliveryOutcome Outcome, int? StatusCode, string? Error, double DurationMs);

/// <summary>Posts one signed delivery. Never follows redirects and never uses a proxy (either would bypass the SSRF guard).</summary>
internal sealed class WebhookSender : IDisposable
{
    public const string SignatureHeader = "Formanova-Signature";
    public const string DeliveryHeader = "Formanova-Delivery-Id";
    public const string EventIdHeader = "Formanova-Event-Id";
    public const string EventTypeHeader = "Formanova-Event-Type";
    public const string AttemptHeader = "Formanova-Attempt";

    private readonly HttpClient _client;
    private readonly UrlGuard _guard;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;

    public WebhookSender(UrlGuard guard, IOptions<EventOptions> options, TimeProvider time)
    {
        _guard = guard;
        _time = time;
        _timeout = TimeSpan.FromSeconds(options.Value.Webhooks.TimeoutSeconds);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = _timeout,
            ConnectCallback = ConnectAsync,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("Formanova-Webhooks/1.0");
    }

    /// <summary>Lower-case hex HMAC-SHA256 of <c>"{timestamp}.{body}"</c> keyed with the UTF-8 secret.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    public async Task<SendResult> SendAsync(
        Uri url,
        string secret,
        long deliveryId,
        int attempt,
        LoggedEvent e,
        CancellationToken cancellationToken)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(e.Json) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/cloudevents+json") { CharSet = "utf-8" };
        request.Headers.Add(SignatureHeader, $"t={timestamp.ToString(CultureInfo.InvariantCulture)},v1={Sign(secret, timestamp, e.Json)}");
        request.Headers.Add(DeliveryHeader, deliveryId.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(EventIdHeader, e.Sequence.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(EventTypeHeader, e.Row.Type);
        request.Headers.Add(AttemptHeader, attempt.ToString(CultureInfo.InvariantCulture));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        var started = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => new SendResult(DeliveryOutcome.Delivered, status, null, Elapsed()),
                >= 300 and < 400 => new SendResult(
                    DeliveryOutcome.PermanentFailure,
                    status,
                    $"The receiver answered {status}; redirects are not followed.",
                    Elapsed()),
                408 or 425 or 429 or >= 500 => new SendResult(
                    DeliveryOutcome.RetryableFailure,
                    status,
                    $"The receiver answered {status}.",
                    Elapsed()),
                _ => new SendResult(
                    DeliveryOutcome.PermanentFailure,
                    status,
                    $"The receiver answered {status}, which is not retried.",
                    Elapsed()),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SendResult(
                DeliveryOutcome.RetryableFailure,
                null,
                $"No response within {_timeout.TotalSeconds:0.#} s (Event:Webhooks:TimeoutSeconds).",
                Elapsed());
        }
        catch (HttpRequestException exception) when (FindRefusal(exception) is { } refusal)
        {
            return new SendResult(DeliveryOutcome.PermanentFailure, null, refusal.Message, Elapsed());
        }
        catch (HttpRequestException exception)
        {
            return new SendResult(DeliveryOutcome.RetryableFailure, null, exception.Message, Elapsed());
        }
    }

    public void Dispose() => _client.Dispose();

    private static RefusedAddressException? FindRefusal(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is RefusedAddressException refused)
            {
                return refused;
            }
        }

        return null;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await UrlGuard.ResolveAsync(context.DnsEndPoint.Host, cancellationToken);
        if (_guard.Refusal(addresses) is { } refusal)
        {
            throw new RefusedAddressException(refusal);
        }

        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException exception)
            {
                socket.Dispose();
                last = exception;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private sealed class RefusedAddressException(string message) : Exception(message);
}
