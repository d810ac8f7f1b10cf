using Formanova.Modules.Event;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Event.Api;

[Category("Integration")]
public sealed class EventStreamTests
{
    private FormanovaFactory _factory = null!;
    private HttpClient _client = null!;
    private IEventModule _events = null!;

    [SetUp]
    public void SetUp()
    {
        _factory = EventTestSupport.Factory([new("Event:Stream:HeartbeatSeconds", "1")]);
        _client = _factory.CreateClient();
        _client.Timeout = TimeSpan.FromMinutes(2);
        _events = _factory.Services.GetRequiredService<IEventModule>();
    }

    [TearDown]
    public async Task TearDown()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Stream_WhenResumedWhilePublishersKeepWriting_DeliversEveryLaterEventOnceInOrder(bool useLastEventIdHeader)
    {
        for (var i = 0; i < 5; i++)
        {
            await Publish(IEventModule.TrainingProgress, "/workflows/train/runs/1");
        }

        // Publishers run while the client connects, replays and switches to live delivery.
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 60; i++)
            {
                await Task.WhenAll(
                    Publish(IEventModule.TrainingProgress, "/workflows/train/runs/1"),
                    Publish(IEventModule.TrainingProgress, "/workflows/train/runs/1"));
            }
        });

        using var request = new HttpRequestMessage(
            HttpMethod.Get,
            useLastEventIdHeader ? "/api/v1/events/stream" : "/api/v1/events/stream?after=2");
        if (useLastEventIdHeader)
        {
            request.Headers.Add("Last-Event-ID", "2");
        }

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        await publishing;

        var received = new List<long>();
        for (var i = 0; i < 5 + 120 - 2; i++)
        {
            received.Add((await sse.NextAsync()).Sequence);
        }

        var stored = (await _events.ListAsync(new EventQuery(2, Limit: 1000))).Items.Select(e => e.Sequence).ToList();
        Assert.That(received, Is.EqualTo(stored));
    }

    [Test]
    public async Task Stream_WhenFilteredByWorkflowIdAndType_SendsOnlyMatchingEvents()
    {
        using var response = await _client.GetAsync(
            "/api/v1/events/stream?workflowId=w1&type=WORKFLOW_STARTED,WORKFLOW_COMPLETED",
            HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        await sse.WaitForCommentAsync("connected", TimeSpan.FromSeconds(10));

        await Publish(IEventModule.WorkflowStarted, "/workflows/w1/runs/a");
        await Publish(IEventModule.WorkflowStarted, "/workflows/w10/runs/a");
        await Publish(IEventModule.ProcessingCompleted, "/workflows/w1/runs/a");
        await Publish(IEventModule.WorkflowStarted, "/modules/model");
        await Publish(IEventModule.WorkflowCompleted, "/workflows/w1/runs/a");

        var first = await sse.NextAsync();
        var second = await sse.NextAsync();
        Assert.Multiple(() =>
        {
            Assert.That(first.Json.GetProperty("type").GetString(), Is.EqualTo("WORKFLOW_STARTED"));
            Assert.That(first.Json.GetProperty("source").GetString(), Is.EqualTo("/workflows/w1/runs/a"));
            Assert.That(second.Json.GetProperty("type").GetString(), Is.EqualTo("WORKFLOW_COMPLETED"));
            Assert.That(second.Sequence - first.Sequence, Is.EqualTo(4));
        });
    }

    [Test]
    public async Task Stream_WhenIdle_SendsHeartbeatComments()
    {
        using var response = await _client.GetAsync("/api/v1/events/stream", HttpCompletionOption.ResponseHeadersRead);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());

        await sse.WaitForCommentAsync("heartbeat", TimeSpan.FromSeconds(10));

        Assert.That(sse.Comments, Does.Contain("connected"));
    }

    private Task<PublishEventResult> Publish(string type, string source) => _events.PublishAsync(new PublishEventRequest(type, source));
}
