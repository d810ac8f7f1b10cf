namespace Formanova.DevServer.Engine;

/// <summary>
/// A matching queue: tasks wait for pollers and pollers wait for tasks. Handing a task to a poller and a
/// poller giving up both happen under the same lock, so a task is never given to a poller that already left.
/// </summary>
internal sealed class TaskQueue<T> where T : class
{
    private readonly Queue<T> _items = new();
    private readonly LinkedList<TaskCompletionSource<T?>> _waiters = new();
    private readonly Lock _gate = new();

    public int Backlog
    {
        get
        {
            lock (_gate)
            {
                return _items.Count;
            }
        }
    }

    public void Add(T item)
    {
        lock (_gate)
        {
            while (_waiters.First is { } node)
            {
                _waiters.RemoveFirst();
                if (node.Value.TrySetResult(item))
                {
                    return;
                }
            }

            _items.Enqueue(item);
        }
    }

    /// <summary>Returns null when the token fires before a task arrives.</summary>
    public async Task<T?> TakeAsync(CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource<T?>(TaskCreationOptions.RunContinuationsAsynchronously);
        LinkedListNode<TaskCompletionSource<T?>> node;
        lock (_gate)
        {
            if (_items.TryDequeue(out var ready))
            {
                return ready;
            }

            node = _waiters.AddLast(waiter);
        }

        await using var registration = cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                if (node.List is not null)
                {
                    _waiters.Remove(node);
                }

                waiter.TrySetResult(null);
            }
        });
        return await waiter.Task;
    }
}
