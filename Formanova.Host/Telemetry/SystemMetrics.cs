using System.Diagnostics.Metrics;
using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Telemetry;

/// <summary>
/// The system metrics of docs/observability.md that the runtime and process instrumentation do not cover: disk space of the data
/// volume, and the host's network traffic (Linux /proc/net/dev; absent elsewhere). CPU and memory come from
/// the process instrumentation (process.cpu.time, process.memory.usage).
/// </summary>
internal sealed class SystemMetrics : IDisposable
{
    public const string MeterName = "Formanova.System";

    private readonly Meter _meter;

    public SystemMetrics(IMeterFactory meterFactory, IOptions<FormanovaOptions> options)
    {
        var dataDirectory = options.Value.ResolveDataDirectory();
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableUpDownCounter(
            "formanova.system.disk.free",
            () => new DriveInfo(dataDirectory).AvailableFreeSpace,
            "By",
            "Free space on the volume that holds the data directory.");
        _meter.CreateObservableUpDownCounter(
            "formanova.system.disk.size",
            () => new DriveInfo(dataDirectory).TotalSize,
            "By",
            "Size of the volume that holds the data directory.");
        if (File.Exists("/proc/net/dev"))
        {
            _meter.CreateObservableCounter(
                "formanova.system.network.io",
                ReadNetwork,
                "By",
                "Bytes received and transmitted by all non-loopback interfaces.");
        }
    }

    private static IEnumerable<Measurement<long>> ReadNetwork()
    {
        long received = 0, transmitted = 0;
        foreach (var line in File.ReadLines("/proc/net/dev").Skip(2))
        {
            var parts = line.Split(':', 2);
            if (parts.Length != 2 || parts[0].Trim() == "lo")
            {
                continue;
            }

            var fields = parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            received += long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture);
            transmitted += long.Parse(fields[8], System.Globalization.CultureInfo.InvariantCulture);
        }

        return
        [
            new(received, new KeyValuePair<string, object?>("network.io.direction", "receive")),
            new(transmitted, new KeyValuePair<string, object?>("network.io.direction", "transmit")),
        ];
    }

    public void Dispose() => _meter.Dispose();
}
