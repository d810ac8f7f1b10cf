using System.Globalization;
using System.Runtime.InteropServices;

namespace Formanova.DevServer;

// Standalone entry point: dotnet run --project Formanova.DevServer -- --port 7233 --db ./data/temporal.db
// An explicit class rather than top-level statements so no global Program type clashes with the host's.
internal static class Cli
{
    public static async Task<int> Main(string[] args)
    {
        var options = new DevServerOptions { StoragePath = "./data/temporal.db" };
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--port":
                    options.Port = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--db":
                    options.StoragePath = Next();
                    break;
                case "--ip":
                    options.BindAddress = Next();
                    break;
                case "--namespace":
                    var spec = Next().Split(':', 2);
                    options.Namespaces.Add(new DevServerNamespace(spec[0], spec.Length > 1
                        ? TimeSpan.FromDays(double.Parse(spec[1], CultureInfo.InvariantCulture))
                        : options.DefaultNamespaceRetention));
                    break;
                default:
                    await Console.Error.WriteLineAsync(
                        "usage: Formanova.DevServer [--port 7233] [--ip 127.0.0.1] [--db path|:memory:]"
                        + " [--namespace name[:retentionDays]]...");
                    return 2;
            }
        }

        await using var host = new DevServerHost();
        var address = await host.StartAsync(options);
        Console.WriteLine($"Formanova dev server listening on {address} (storage: {options.StoragePath})");
        var stop = new TaskCompletionSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await stop.Task;
        await host.StopAsync();
        return 0;
    }
}
