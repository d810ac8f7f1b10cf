using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Formanova.Client;
using Formanova.Client.Generated.Models;
using Formanova.Tests.Support;
using Microsoft.Kiota.Abstractions.Serialization;
using static Formanova.Tests.Client.ClientKit;

namespace Formanova.Tests.Client;

/// <summary>The facade of Formanova.Client against the real host: auth, errors, retries, paging, the event stream, cancellation.</summary>
public sealed class FormanovaClientTests
{
    private static FormanovaFactory Factory(params (string Key, string? Value)[] settings) =>
        new(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)).Append(new("Event:Stream:RetryMilliseconds", "20")));

    private static async Task<List<long>> PublishAsync(FormanovaClient client, string source, IEnumerable<int> numbers)
    {
        var sequences = new List<long>();
        foreach (var n in numbers)
        {
            var published = await client.V1.Events.PostAsync(new PublishEventRequest
            {
                Type = "CLIENT_PING",
                Source = source,
                Data = new UntypedObject(new Dictionary<string, UntypedNode> { ["n"] = new UntypedInteger(n) }),
            });
            sequences.Add(long.Parse(published!.Id!, CultureInfo.InvariantCulture));
        }

        return sequences;
    }

    private static int Number(StreamedEvent e) =>
        System.Text.Json.JsonDocument.Parse(e.Json).RootElement.GetProperty("data").GetProperty("n").GetInt32();

    [Test]
    public async Task Requests_WhenTheKeyIsSentEitherWay_AreAuthenticated_AndAWrongKeyIsATyped401()
    {
        using var factory = Factory();
        using var header = Create(factory);
        using var bearer = Create(factory, options: new FormanovaClientOptions { UseBearerToken = true });
        using var wrong = Create(factory, key: "fnv_wrong-key-0123456789abcdef0123");

        Assert.That(await header.V1.Datasets.GetAsync(), Is.Not.Null);
        Assert.That(await bearer.V1.Datasets.GetAsync(), Is.Not.Null);
        var error = Assert.ThrowsAsync<FormanovaApiException>(() => wrong.V1.Datasets.GetAsync());
        Assert.That(error!.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Errors_WhenTheServerAnswersProblemDetails_AreTypedExceptionsWithErrorsAndTraceId()
    {
        using var factory = Factory();
        using var client = Create(factory);

        var invalid = Assert.ThrowsAsync<FormanovaApiException>(() => client.V1.Datasets.PostAsync(new CreateDatasetRequest
        {
            Name = "",
            Columns = [],
        }));
        Assert.Multiple(() =>
        {
            Assert.That(invalid!.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(invalid.ResponseStatusCode, Is.EqualTo(400));
            Assert.That(invalid.Title, Is.Not.Null.And.Not.Empty);
            Assert.That(invalid.Errors.Keys, Does.Contain("name"));
            Assert.That(invalid.Errors["name"], Is.Not.Empty);
            Assert.That(invalid.TraceId, Is.Not.Null.And.Not.Empty);
            Assert.That(invalid.Message, Does.Contain("name"));
        });

        var missing = Assert.ThrowsAsync<FormanovaApiException>(() => client.V1.Datasets[987654].GetAsync());
        Assert.Multiple(() =>
        {
            Assert.That(missing!.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(missing.Detail, Is.Not.Null.And.Not.Empty);
            Assert.That(missing.TraceId, Is.Not.Null.And.Not.Empty);
            Assert.That(missing.Errors, Is.Empty);
        });
    }

    [Test]
    public async Task Requests_WhenRateLimited_AreRetriedAfterTheServersRetryAfter()
    {
        using var factory = Factory(
            ("RateLimiting:Enabled", "true"),
            ("RateLimiting:PerKey:PermitsPerSecond", "1"),
            ("RateLimiting:PerKey:Burst", "1"));
        var recorder = new RecordingHandler();
        // Without Retry-After the first back-off would be 2 x 10 s: finishing well before that shows the header won.
        using var client = Create(factory, recorder, new FormanovaClientOptions { RetryDelaySeconds = 10 });

        await client.V1.Datasets.GetAsync();
        var clock = Stopwatch.StartNew();
        // A POST: the retry must send the same body again.
        var sequences = await PublishAsync(client, "/tests/client-retry", [1]);
        var elapsed = clock.Elapsed;

        var events = await client.ListEventsAsync(new EventFilter(Source: "/tests/client-retry")).ToListAsync();
        Assert.That(
            events.Select(e => e.Id),
            Is.EqualTo(sequences.Select(s => s.ToString(CultureInfo.InvariantCulture))));
        // The bucket refills on its own timer, so a retry may meet a second 429 before the one that passes.
        var calls = recorder.Exchanges.ToList();
        var posts = calls.Skip(1).TakeWhile(c => c.Method == "POST").ToList();
        Assert.That((calls[0].Method, calls[0].Status), Is.EqualTo(("GET", HttpStatusCode.OK)));
        Assert.That(posts.SkipLast(1).Select(c => c.Status), Is.Not.Empty.And.All.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(posts[^1].Status, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(posts[^1].Headers["Retry-Attempt"], Is.EqualTo((posts.Count - 1).ToString(CultureInfo.InvariantCulture)));
        Assert.That(elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(10)));
    }

    [Test]
    public async Task Requests_WhenRateLimitedWithoutRetries_ThrowA429CarryingRetryAfter()
    {
        using var factory = Factory(
            ("RateLimiting:Enabled", "true"),
            ("RateLimiting:PerKey:PermitsPerSecond", "0.01"),
            ("RateLimiting:PerKey:Burst", "1"));
        using var client = Create(factory, options: new FormanovaClientOptions { MaxRetries = 0 });

        await client.V1.Datasets.GetAsync();
        var error = Assert.ThrowsAsync<FormanovaApiException>(() => client.V1.Datasets.GetAsync());

        Assert.That(error!.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(error.RetryAfter, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public async Task Requests_WhenCancelledWhileWaitingToRetry_StopWithoutRetrying()
    {
        using var factory = Factory(
            ("RateLimiting:Enabled", "true"),
            ("RateLimiting:PerKey:PermitsPerSecond", "0.01"),
            ("RateLimiting:PerKey:Burst", "1"));
        using var cancel = new CancellationTokenSource();
        var recorder = new RecordingHandler
        {
            OnResponse = r =>
            {
                if (r.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    cancel.Cancel();
                }
            },
        };
        using var client = Create(factory, recorder);

        await client.V1.Datasets.GetAsync();
        Assert.That(
            async () => await client.V1.Datasets.GetAsync(cancellationToken: cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(
            recorder.To("/api/v1/datasets").Select(c => c.Status),
            Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        Assert.That(
            async () => await client.V1.Models.GetAsync(cancellationToken: cancelled.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task ListEvents_WhenTheHistorySpansPages_YieldsEveryEventOnceInOrder()
    {
        using var factory = Factory();
        var recorder = new RecordingHandler();
        using var client = Create(factory, recorder);
        var published = await PublishAsync(client, "/tests/client-paging", Enumerable.Range(1, 5));

        var events = await client.ListEventsAsync(new EventFilter(Source: "/tests/client-paging"), pageSize: 2).ToListAsync();

        Assert.That(events.Select(e => long.Parse(e.Id!, CultureInfo.InvariantCulture)), Is.EqualTo(published));
        Assert.That(recorder.To("/api/v1/events?").Count(), Is.EqualTo(3), "pages of 2, 2 and 1");
    }

    [Test]
    public async Task ReadRows_WhenTheDatasetSpansPages_YieldsEveryRowOnce()
    {
        using var factory = Factory();
        var recorder = new RecordingHandler();
        using var client = Create(factory, recorder);
        var dataset = await client.V1.Datasets.PostAsync(new CreateDatasetRequest
        {
            Name = "client-rows",
            Columns =
            [
                new ColumnDefinition { Name = "key", Type = ColumnType.Categorical, Role = ColumnRole.Id },
                new ColumnDefinition { Name = "x", Type = ColumnType.Numeric, Role = ColumnRole.Feature, Nullable = true },
            ],
        });
        var id = dataset!.Id!.Value;
        var csv = new StringBuilder("key,x\n");
        for (var i = 0; i < 7; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"k{i},{i}\n");
        }

        using var content = new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString()));
        var report = await client.ImportRowsAsync(id, content);
        var rows = await client.ReadRowsAsync(id, pageSize: 3).ToListAsync();

        Assert.That(report!.RowsAccepted, Is.EqualTo(7));
        Assert.That(rows.Select(r => r.RowId).Distinct().Count(), Is.EqualTo(7));
        Assert.That(recorder.To($"/api/v1/datasets/{id}/rows?").Count(), Is.EqualTo(3), "pages of 3, 3 and 1");
    }

    [Test]
    public async Task StreamEvents_WhenTheConnectionDrops_ResumesWithLastEventIdLosingAndRepeatingNothing()
    {
        using var factory = Factory();
        var recorder = new RecordingHandler { CutFirstStreamAfterEvents = 2 };
        using var client = Create(factory, recorder);
        const string Source = "/tests/client-stream";
        await PublishAsync(client, Source, [1, 2, 3]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var received = new List<StreamedEvent>();
        await foreach (var e in client.StreamEventsAsync(new EventFilter(Source: Source, After: 0), timeout.Token))
        {
            received.Add(e);
            if (received.Count == 3)
            {
                // Published only now, so these arrive live on the resumed connection, not in its replay.
                await PublishAsync(client, Source, [4, 5, 6]);
            }

            if (received.Count == 6)
            {
                break;
            }
        }

        Assert.That(received.Select(Number), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(received.Select(e => e.Sequence), Is.Ordered.Ascending.And.Unique);
        Assert.That(received.Select(e => e.Event.Source), Is.All.EqualTo(Source));
        var connections = recorder.To("/api/v1/events/stream").ToList();
        Assert.That(connections, Has.Count.EqualTo(2));
        Assert.That(connections[0].Headers["Last-Event-ID"], Is.EqualTo("0"), "the filter's After starts the replay");
        Assert.That(connections[1].Headers["Last-Event-ID"], Is.EqualTo(received[1].Sequence.ToString(CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task StreamEvents_WhenCancelled_EndsWithOperationCanceled()
    {
        using var factory = Factory();
        using var client = Create(factory);
        await PublishAsync(client, "/tests/client-cancel", [1]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var stream = client.StreamEventsAsync(new EventFilter(Source: "/tests/client-cancel", After: 0), cancel.Token);
        await using var events = stream.GetAsyncEnumerator();
        Assert.That(await events.MoveNextAsync(), Is.True);
        await cancel.CancelAsync();

        // Nothing more is published: without the cancellation this would wait for the next event for ever.
        Assert.That(async () => await events.MoveNextAsync(), Throws.InstanceOf<OperationCanceledException>());
    }
}
