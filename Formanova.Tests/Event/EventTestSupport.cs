using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Formanova.Tests.Event;

internal static class EventTestSupport
{
    /// <summary>Fast loops and short timeouts so retries and dead-letters happen within a test.</summary>
    public static readonly IReadOnlyDictionary<string, string?> FastSettings = new Dictionary<string, string?>
    {
        ["Event:Webhooks:AllowLoopback"] = "true",
        ["Event:Webhooks:BackoffBaseMilliseconds"] = "50",
        ["Event:Webhooks:MaxAttempts"] = "3",
        ["Event:Webhooks:TimeoutSeconds"] = "1",
        ["Event:Webhooks:FanOutIntervalMilliseconds"] = "100",
        ["Event:Webhooks:Dispatcher:PollIntervalMilliseconds"] = "50",
        ["Event:Broadcast:PollIntervalMilliseconds"] = "100",
        // These tests never touch the demo model; training it at start only competes with them for a busy CI machine.
        ["Model:Bootstrap:Enabled"] = "false",
    };

    public static FormanovaFactory Factory(IEnumerable<KeyValuePair<string, string?>>? extra = null) =>
        new(FastSettings.Concat(extra ?? []));

    /// <summary>Asserts a 400 ProblemDetails whose errors name <paramref name="field"/>; returns the problem.</summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, body);
        return problem;
    }

    /// <summary>Re-checks a condition until it holds or the deadline passes (state written by background loops).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for {what ?? "the condition"}; last value: {Describe(value)}");
            }

            await Task.Delay(25);
        }
    }

    private static string Describe<T>(T value) => value is System.Collections.IEnumerable items and not string
        ? $"[{string.Join(", ", items.Cast<object?>())}]"
        : $"{value}";
}

/// <summary>A real Kestrel server on a loopback port that records webhook deliveries and answers as told.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _answered;

    private WebhookReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>Decides the answer for the n-th request (1-based); default 200.</summary>
    public Func<int, HttpContext, Task<int>> Behaviour { get; set; } = (_, _) => Task.FromResult(200);

    public string Url { get; private set; } = "";

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            receiver.Requests.Enqueue(new ReceivedRequest(headers, body));
            var status = await receiver.Behaviour(receiver.Requests.Count, context);
            context.Response.StatusCode = status;
            Interlocked.Increment(ref receiver._answered);
            Interlocked.Exchange(ref receiver._next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))
                .TrySetResult();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = address + "/hook";
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> requests have been answered.</summary>
    public async Task WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (Volatile.Read(ref _answered) < count)
        {
            var next = Volatile.Read(ref _next).Task;
            if (Volatile.Read(ref _answered) >= count)
            {
                return;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || await Task.WhenAny(next, Task.Delay(left)) != next)
            {
                Assert.Fail($"Expected {count} webhook requests, got {Requests.Count}.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed record ReceivedRequest(IReadOnlyDictionary<string, string> Headers, string Body);
}
