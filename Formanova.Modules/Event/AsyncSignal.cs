namespace Formanova.Modules.Event;

/// <summary>A wake-up for background loops: <see cref="Next"/> completes at the following <see cref="Set"/>.</summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Next => Volatile.Read(ref _next).Task;

    public void Set() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits for the next <see cref="Set"/> after <paramref name="observed"/> was read, or at most <paramref
    /// name="timeout"/>.</summary>
    public static async Task WaitAsync(Task observed, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await observed.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // The periodic check is due.
        }
    }
}
