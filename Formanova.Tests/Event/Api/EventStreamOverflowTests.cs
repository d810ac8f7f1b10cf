using System.IO.Pipelines;
using System.Text;
using Formanova.Modules.Event;
using Formanova.Modules.Event.Api;
using Formanova.Modules.Event.Broadcast;
using Formanova.Modules.Event.Log;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Tests.Event.Api;

public sealed class EventStreamOverflowTests
{
    [Test]
    public async Task Stream_WhenTheClientStopsReading_IsClosedWithAReasonNamingTheLastIdWhileOthersContinue()
    {
        await using var factory = EventTestSupport.Factory([new("Event:Broadcast:SubscriberBufferSize", "3")]);
        var services = factory.Services;
        var hub = services.GetRequiredService<EventHub>();
        var events = services.GetRequiredService<IEventModule>();
        await hub.Ready;
        using var healthy = hub.Subscribe(EventFilter.All, bufferSize: 100);

        // A response body that accepts nothing until the test reads it: the client has stopped reading.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1));
        var context = new DefaultHttpContext { RequestServices = services };
        context.Features.Set<IHttpResponseBodyFeature>(new PipeBody(pipe.Writer));
        var streaming = EventStream.RunAsync(
            context,
            lastEventId: null,
            after: null,
            query: default,
            hub,
            services.GetRequiredService<EventStore>(),
            services.GetRequiredService<IOptions<EventOptions>>());
        await EventTestSupport.EventuallyAsync(() => Task.FromResult(hub.SubscriberCount), n => n == 2, what: "the stream's subscription");

        var published = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            published.Add(
                (await events.PublishAsync(new PublishEventRequest(IEventModule.TrainingProgress, "/modules/model"))).Event.Sequence);
        }

        await EventTestSupport.EventuallyAsync(
            () => Task.FromResult(hub.SubscriberCount),
            n => n == 1,
            what: "the slow stream to be closed");
        var reading = ReadAllAsync(pipe.Reader);
        await streaming.WaitAsync(TimeSpan.FromSeconds(10));
        await pipe.Writer.CompleteAsync();
        var output = await reading;

        var healthyReceived = new List<long>();
        while (healthyReceived.Count < 10 && healthy.Reader.TryRead(out var e))
        {
            healthyReceived.Add(e.Sequence);
        }

        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Contain($"id: {published[2]}\n"));
            Assert.That(output, Does.Not.Contain($"id: {published[3]}\n"));
            Assert.That(output, Does.Contain("event: closed\n"));
            Assert.That(output, Does.Contain($"Reconnect with Last-Event-ID: {published[2]} to resume."));
            Assert.That(healthyReceived, Is.EqualTo(published));
        });
    }

    private static async Task<string> ReadAllAsync(PipeReader reader)
    {
        var text = new StringBuilder();
        while (true)
        {
            var result = await reader.ReadAsync();
            foreach (var segment in result.Buffer)
            {
                text.Append(Encoding.UTF8.GetString(segment.Span));
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return text.ToString();
            }
        }
    }

    private sealed class PipeBody(PipeWriter writer) : IHttpResponseBodyFeature
    {
        public Stream Stream => writer.AsStream();

        public PipeWriter Writer => writer;

        public void DisableBuffering()
        {
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public Task CompleteAsync() => writer.CompleteAsync().AsTask();
    }
}
