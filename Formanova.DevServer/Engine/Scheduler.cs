namespace Formanova.DevServer.Engine;

/// <summary>
/// One timer for all deadlines (workflow timers, activity and task timeouts, retries, retention) so that
/// thousands of pending workflows do not each hold a System.Threading.Timer.
/// </summary>
internal sealed class Scheduler : IDisposable
{
    private readonly PriorityQueue<Action, DateTime> _queue = new();
    private readonly Lock _gate = new();
    private readonly ITimer _timer;
    private readonly TimeProvider _clock;
    private readonly Action<Exception> _onError;
    private bool _disposed;

    public Scheduler(TimeProvider clock, Action<Exception> onError)
    {
        _clock = clock;
        _onError = onError;
        _timer = clock.CreateTimer(_ => Fire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private DateTime Now => _clock.GetUtcNow().UtcDateTime;

    public void At(DateTime dueUtc, Action action)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Enqueue(action, dueUtc);
            if (_queue.TryPeek(out _, out var first) && first == dueUtc)
            {
                Rearm(first);
            }
        }
    }

    public void After(TimeSpan delay, Action action) => At(Now + delay, action);

    /// <summary>
    /// Runs <paramref name="action"/> on <paramref name="target"/> unless nothing else references it any more:
    /// a deadline that outlives a workflow run's retention must not keep the deleted run in memory. The action
    /// must not capture the target itself.
    /// </summary>
    public void At<T>(DateTime dueUtc, T target, Action<T> action)
        where T : class
    {
        var weak = new WeakReference<T>(target);
        At(dueUtc, () =>
        {
            if (weak.TryGetTarget(out var alive))
            {
                action(alive);
            }
        });
    }

    public void After<T>(TimeSpan delay, T target, Action<T> action)
        where T : class => At(Now + delay, target, action);

    private void Rearm(DateTime due)
    {
        var delay = due - Now;
        if (delay < TimeSpan.Zero)
        {
            delay = TimeSpan.Zero;
        }

        // Timer cannot take more than ~49 days; re-check at least daily.
        if (delay > TimeSpan.FromDays(1))
        {
            delay = TimeSpan.FromDays(1);
        }

        _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private void Fire()
    {
        var due = new List<Action>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var now = Now;
            while (_queue.TryPeek(out var action, out var at) && at <= now)
            {
                _queue.Dequeue();
                due.Add(action);
            }

            if (_queue.TryPeek(out _, out var next))
            {
                Rearm(next);
            }
        }

        foreach (var action in due)
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                _onError(e);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }
}
