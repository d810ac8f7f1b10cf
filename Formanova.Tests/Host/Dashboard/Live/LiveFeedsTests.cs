using Formanova.Host.Dashboard;
using Formanova.Host.Dashboard.Live;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Formanova.Tests.Host.Dashboard.Live;

/// <summary>Live regions shared by every page that watches them, driven by a fake clock.</summary>
public sealed class LiveFeedsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private FakeTimeProvider _clock = null!;
    private LiveFeeds _feeds = null!;
    private Producer _producer = null!;

    [SetUp]
    public void SetUp()
    {
        _clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));
        _feeds = new LiveFeeds(Options.Create(new DashboardOptions { RefreshSeconds = 2 }), _clock, NullLogger<LiveFeeds>.Instance);
        _producer = new Producer();
    }

    [TearDown]
    public void TearDown() => _feeds.Dispose();

    [Test]
    public async Task Subscribe_WhenTwoPagesWatchOneRegion_ReadsItOncePerIntervalAndSendsEachChangeToBoth()
    {
        using var first = _feeds.Subscribe("region", _producer.ProduceAsync);
        using var second = _feeds.Subscribe("region", _producer.ProduceAsync);
        Assert.That((await NextAsync(first)).Html, Is.EqualTo("v1"));
        Assert.That((await NextAsync(second)).Html, Is.EqualTo("v1"));

        _producer.Html = "v2";
        await TickAsync(2);

        Assert.That((await NextAsync(first)).Html, Is.EqualTo("v2"));
        Assert.That((await NextAsync(second)).Html, Is.EqualTo("v2"));
        Assert.That(_producer.Calls, Is.EqualTo(2));
        Assert.That(_feeds.Running, Is.EqualTo(1));
    }

    [Test]
    public async Task Subscribe_WhenTheRegionRendersTheSame_SendsNothingNew()
    {
        using var page = _feeds.Subscribe("region", _producer.ProduceAsync);
        await NextAsync(page);

        await TickAsync(2);
        await TickAsync(3);

        Assert.That(page.Frames.TryRead(out var frame), Is.False, $"sent again: {frame?.Html}");
    }

    [Test]
    public async Task Subscribe_WhenAPageJoinsLater_GivesItTheLatestFrameAtOnce()
    {
        using var first = _feeds.Subscribe("region", _producer.ProduceAsync);
        await NextAsync(first);

        using var later = _feeds.Subscribe("region", _producer.ProduceAsync);

        Assert.That(later.Frames.TryRead(out var frame), Is.True);
        Assert.That(frame!.Html, Is.EqualTo("v1"));
        Assert.That(_producer.Calls, Is.EqualTo(1));
    }

    [Test]
    public async Task Dispose_WhenTheLastPageLeaves_StopsReadingTheRegion()
    {
        var page = _feeds.Subscribe("region", _producer.ProduceAsync);
        await NextAsync(page);

        page.Dispose();
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.That(_feeds.Running, Is.Zero);
        using var again = _feeds.Subscribe("region", _producer.ProduceAsync);
        await NextAsync(again);
        Assert.That(_producer.Calls, Is.EqualTo(2), "the region was read while nobody watched it");
    }

    [Test]
    public async Task Produce_WhenAFrameIsFinal_SendsItAndEndsTheFeed()
    {
        using var page = _feeds.Subscribe("region", _producer.ProduceAsync);
        await NextAsync(page);

        _producer.Html = "closed";
        _producer.Final = true;
        await TickAsync(2);

        var last = await NextAsync(page);
        Assert.That(last.Final, Is.True);
        Assert.That(last.Html, Is.EqualTo("closed"));
        await Until(() => _feeds.Running == 0);
    }

    private static async Task<LiveFrame> NextAsync(LiveSubscription subscription) =>
        await subscription.Frames.ReadAsync().AsTask().WaitAsync(Wait);

    /// <summary>
    /// Moves the clock one interval on and returns once the producer has been called for the <paramref name="call"/>th time.
    /// </summary>
    private async Task TickAsync(int call)
    {
        _clock.Advance(TimeSpan.FromSeconds(2));
        await _producer.Returned(call).WaitAsync(Wait);
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out");
            await Task.Yield();
        }
    }

    /// <summary>A region whose rendering the test sets, counting its reads.</summary>
    private sealed class Producer
    {
        private readonly List<TaskCompletionSource> _returned = [];
        private int _calls;

        public string Html { get; set; } = "v1";

        public bool Final { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public Task<LiveFrame> ProduceAsync(CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls);
            Source(call).TrySetResult();
            return Task.FromResult(new LiveFrame(Html, Final));
        }

        /// <summary>Completes once call <paramref name="call"/> has been made; the frame it produced is being handled.</summary>
        public Task Returned(int call) => Source(call).Task;

        private TaskCompletionSource Source(int call)
        {
            lock (_returned)
            {
                while (_returned.Count < call)
                {
                    _returned.Add(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                }

                return _returned[call - 1];
            }
        }
    }
}
