namespace Formanova.DevServer.Engine;

/// <summary>
/// The long polls of each worker instance (<c>worker_instance_key</c> on the poll requests), so that ShutdownWorker
/// can answer them empty at once: the worker then stops without waiting for its polls' deadlines, and no task is
/// handed to a poll whose worker has stopped listening (the namespace capability <c>worker_poll_complete_on_shutdown</c>).
/// </summary>
internal sealed class WorkerPolls
{
    // A poll that arrives after its worker shut down (it was already on the wire) is answered at once too; the
    // instance is forgotten after this long, since a worker that shut down does not poll again.
    private static readonly TimeSpan ShutdownMemory = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, Instance> _instances = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private sealed class Instance
    {
        public CancellationTokenSource ShutDown { get; } = new();

        public int Polls { get; set; }

        public bool Closed { get; set; }
    }

    /// <summary>A poll of <paramref name="workerKey"/> starts; its token is cancelled when that worker shuts down.</summary>
    public Registration Enter(string workerKey)
    {
        if (string.IsNullOrEmpty(workerKey))
        {
            return default;
        }

        lock (_gate)
        {
            var instance = GetOrAdd(workerKey);
            instance.Polls++;
            return new Registration(this, workerKey, instance);
        }
    }

    /// <summary>ShutdownWorker: the worker's outstanding polls complete now, with an empty response.</summary>
    public void ShutDown(string workerKey)
    {
        if (string.IsNullOrEmpty(workerKey))
        {
            return;
        }

        Instance instance;
        lock (_gate)
        {
            instance = GetOrAdd(workerKey);
            instance.Closed = true;
        }

        // Outside the lock: cancellation runs the polls' callbacks, which take task queue locks.
        instance.ShutDown.Cancel();
        _ = Task.Delay(ShutdownMemory).ContinueWith(_ => Forget(workerKey, instance), TaskScheduler.Default);
    }

    private Instance GetOrAdd(string workerKey)
    {
        if (!_instances.TryGetValue(workerKey, out var instance))
        {
            instance = new Instance();
            _instances[workerKey] = instance;
        }

        return instance;
    }

    private void Exit(string workerKey, Instance instance)
    {
        lock (_gate)
        {
            instance.Polls--;
            if (instance.Polls == 0 && !instance.Closed)
            {
                _instances.Remove(workerKey);
            }
        }
    }

    private void Forget(string workerKey, Instance instance)
    {
        lock (_gate)
        {
            if (_instances.TryGetValue(workerKey, out var current) && current == instance)
            {
                _instances.Remove(workerKey);
            }
        }
    }

    public readonly struct Registration(WorkerPolls? owner, string workerKey, object? instance) : IDisposable
    {
        public CancellationToken Token => instance is Instance i ? i.ShutDown.Token : CancellationToken.None;

        public void Dispose()
        {
            if (instance is Instance i)
            {
                owner!.Exit(workerKey, i);
            }
        }
    }
}
