using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Formanova.Modules.Access;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Host.Security;

/// <summary>
/// What the hostile-input tests share: sending one request to the real Kestrel host and judging the answer (no 5xx,
/// no hang, no leaked stack trace, every 4xx a ProblemDetails), and a snapshot of the stored state to compare.
/// </summary>
internal static class HostileRequests
{
    /// <summary>Kestrel's default request body limit (Api:MaxRequestBodyBytes).</summary>
    public const int DefaultBodyLimit = 1024 * 1024;

    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Sends one request; Failure is null when the answer is acceptable for hostile input: anything but a 5xx or a
    /// hang, and a 4xx only as an RFC 9457 ProblemDetails whose status is the response's. Body is the answer's text
    /// (empty for a stream).
    /// </summary>
    public static async Task<(int Status, string? Failure, string Body)> SendAsync(
        HttpClient client, string method, string path, (string ContentType, byte[] Bytes)? body,
        IEnumerable<(string Name, string Value)>? headers = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is { } b)
        {
            request.Content = new ByteArrayContent(b.Bytes);
            if (b.ContentType.Length > 0)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", b.ContentType);
            }

            // Kestrel closes the connection after refusing a body it did not read; never reuse that one.
            request.Headers.ConnectionClose = b.Bytes.Length > DefaultBodyLimit;
        }

        foreach (var (name, value) in headers ?? [])
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.Remove(name);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var timeout = new CancellationTokenSource(RequestTimeout);
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                return (status, status >= 500 ? $"{status}" : null, "");
            }

            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            if (status >= 500)
            {
                return (status, $"{status} {Truncate(text)}", text);
            }

            if (text.Contains("   at ", StringComparison.Ordinal) || text.Contains("Exception:", StringComparison.Ordinal))
            {
                return (status, $"stack trace or exception text leaked: {Truncate(text)}", text);
            }

            // Kestrel's own parser refuses some requests (a NUL in the path, oversized headers) before the app
            // runs, with an empty body.
            var rejectedByKestrel = status is 400 or 413 or 414 or 431 && text.Length == 0;
            var problem = status < 400 || rejectedByKestrel
                ? null
                : ProblemError(status, response.Content.Headers.ContentType?.MediaType, text);
            return (status, problem, text);
        }
        catch (OperationCanceledException)
        {
            return (0, $"no answer within {clock.Elapsed.TotalSeconds:F0} s", "");
        }
        catch (HttpRequestException) when (body is { } large && large.Bytes.Length > DefaultBodyLimit)
        {
            // Kestrel answered 413 and closed the connection while the client was still uploading.
            return (413, null, "");
        }
        catch (HttpRequestException ex)
        {
            return (0, $"connection failed: {ex.HttpRequestError} {ex.InnerException?.Message}", "");
        }
    }

    private static string? ProblemError(int status, string? mediaType, string text)
    {
        if (mediaType != "application/problem+json")
        {
            return $"{status} without ProblemDetails ({mediaType}): {Truncate(text)}";
        }

        try
        {
            using var problem = JsonDocument.Parse(text);
            var root = problem.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number && s.GetInt32() == status
                && root.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String
                    ? null
                    : $"{status} ProblemDetails without a matching status and a title: {Truncate(text)}";
        }
        catch (JsonException)
        {
            return $"{status} ProblemDetails that is not JSON: {Truncate(text)}";
        }
    }

    /// <summary>
    /// The stored state, area by area, through the modules: keys (and whether revoked), datasets (schema version
    /// and row count), models (versions, their status, aliases), webhooks and the event log.
    /// </summary>
    public static async Task<Dictionary<string, string>> SnapshotAsync(IServiceProvider services)
    {
        var model = services.GetRequiredService<IModelModule>();
        var models = new List<string>();
        foreach (var summary in await model.ListModelsAsync())
        {
            var details = await model.GetModelAsync(summary.Name);
            models
                .Add($"{details.Name}:{details.ActiveVersion}:[{string.Join(' ', details.Versions.Select(v => $"{v.Version}={v.Status}"))}]"
                    + $":[{string.Join(' ', details.Aliases.OrderBy(a => a.Key, StringComparer.Ordinal)
                        .Select(a => $"{a.Key}={a.Value}"))}]");
        }

        var webhooks = await services.GetRequiredService<IEventWebhooksModule>().ListWebhooksAsync();
        var keys = await services.GetRequiredService<IAccessModule>().ListKeysAsync();
        return new Dictionary<string, string>
        {
            ["keys"] = string.Join(',', keys.Select(k => $"{k.Id}:{k.Revoked}:{k.ExpiresAt:O}")),
            ["datasets"] = string.Join(
                ',',
                (await services.GetRequiredService<IDataModule>().ListDatasetsAsync()).Select(d => d.ToString())),
            ["models"] = string.Join(',', models),
            ["webhooks"] = string.Join(',', webhooks.Select(w => w.Id)),
            ["events"] = (await CountEventsAsync(services.GetRequiredService<IEventModule>())).ToString(CultureInfo.InvariantCulture),
        };
    }

    private static async Task<int> CountEventsAsync(IEventModule events)
    {
        var count = 0;
        long? after = 0;
        while (after is { } from)
        {
            var page = await events.ListAsync(new EventQuery(from, Limit: 1000));
            count += page.Items.Count;
            after = page.NextAfter;
        }

        return count;
    }

    public static string Truncate(string text) => text.Length > 300 ? text[..300] + "…" : text;
}
