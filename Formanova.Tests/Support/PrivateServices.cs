using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Formanova.Tests.Support;

/// <summary>Free loopback ports, executables and short-lived commands for the drills' private servers.</summary>
internal static class LocalProcesses
{
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>A port nobody listens on right now (the OS picks it; the listener is closed again at once).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Runs a command to its end; a non-zero exit fails with the command's output.</summary>
    public static async Task RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}:\n{await output}\n{await error}");
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds, failing the test at the deadline.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for {what}.");
            }

            await Task.Delay(50);
        }
    }

    public static void DeleteDirectory(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the folder is under the OS temp directory.
        }
    }
}

/// <summary>A child process whose output is drained (a full pipe would stall it) and kept as a short tail for failure messages.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 200;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _awaited = new(StringComparer.Ordinal);

    private ChildProcess(Process process) => _process = process;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Tail => string.Join('\n', _tail);

    /// <summary>Every line written to stdout so far (the tail also holds stderr, and only its last lines).</summary>
    public IReadOnlyCollection<string> Output => _output;

    public static ChildProcess Start(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        var child = new ChildProcess(Process.Start(info)!);
        child._process.OutputDataReceived += (_, e) =>
        {
            child.Keep(e.Data);
            if (e.Data is not null)
            {
                child._output.Enqueue(e.Data);
            }
        };
        child._process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGKILL: no shutdown hook runs, nothing is flushed or committed.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as the kubelet and <c>docker stop</c> send it: the process shuts down on its own.</summary>
    public Task TerminateAsync()
    {
        var pid = _process.Id.ToString(CultureInfo.InvariantCulture);
        return LocalProcesses.RunAsync("kill", ["-TERM", pid], TimeSpan.FromSeconds(10));
    }

    /// <summary>The exit code, once the process has exited; fails the test at the deadline.</summary>
    public async Task<int> ExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The process did not exit within {timeout.TotalSeconds} s:\n{Tail}");
        }

        return _process.ExitCode;
    }

    /// <summary>Completes when a line the process writes from now on contains <paramref name="text"/>.</summary>
    public Task OutputAsync(string text) =>
        _awaited.GetOrAdd(text, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _tail.Enqueue(line);
        foreach (var (text, seen) in _awaited)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                seen.TrySetResult();
            }
        }

        while (_tail.Count > KeptLines)
        {
            _tail.TryDequeue(out _);
        }
    }
}

/// <summary>
/// A PostgreSQL cluster of the drill's own, on a free loopback port in a temporary directory, that the drill may
/// stop and start: the shared server from <see cref="TestServices.Postgres"/> serves every other test and must stay up.
/// As root, the cluster runs as the postgres user (initdb refuses root), through runuser.
/// </summary>
internal sealed class PrivatePostgres : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _bin;
    private readonly string _directory;
    private readonly string _data;
    private readonly string _run;

    private PrivatePostgres(string bin, string directory)
    {
        _bin = bin;
        _directory = directory;
        _data = Path.Combine(directory, "data");
        _run = Path.Combine(directory, "run");
        Port = LocalProcesses.FreePort();
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    /// <summary>initdb and start a new cluster; ignores the test (or fails it where services are required) without the binaries.</summary>
    public static async Task<PrivatePostgres> StartAsync()
    {
        var bin = FindBinaries();
        if (bin is null)
        {
            TestServices.Unavailable("No PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH.");
        }

        var postgresUser = File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal));
        if (LocalProcesses.IsRoot && (LocalProcesses.FindOnPath("runuser") is null || !postgresUser))
        {
            TestServices.Unavailable("As root, a private PostgreSQL needs runuser and a postgres user to run as (initdb refuses root).");
        }

        var directory = Directory.CreateTempSubdirectory("formanova-drill-pg-").FullName;
        var cluster = new PrivatePostgres(bin!, directory);
        try
        {
            await cluster.InitAsync();
            await cluster.StartServerAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the server at once, as a crash would (no checkpoint; open sessions are cut).</summary>
    public Task StopAsync() => PgCtlAsync("stop", "-m", "immediate", "-w");

    /// <summary>Starts the server again on the same port and data, and returns once it accepts connections.</summary>
    public Task StartServerAsync() => PgCtlAsync(
        "start", "-w", "-t", "60", "-l", Path.Combine(_run, "postgres.log"),
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {_run} -c fsync=off -c max_connections=200");

    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(_data, "postmaster.pid")))
        {
            try
            {
                await StopAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                TestContext.Progress.WriteLine($"Stopping the private PostgreSQL failed: {ex.Message}");
            }
        }

        LocalProcesses.DeleteDirectory(_directory);
    }

    private async Task InitAsync()
    {
        if (LocalProcesses.IsRoot)
        {
            // The directory itself is the caller's; the cluster's folders belong to postgres.
            await LocalProcesses.RunAsync("chmod", ["755", _directory], CommandTimeout);
            await LocalProcesses.RunAsync("install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "700", _data, _run], CommandTimeout);
        }
        else
        {
            Directory.CreateDirectory(_data);
            Directory.CreateDirectory(_run);
        }

        // synchronous_commit stays on: an acknowledged commit must survive the immediate stop the drills use.
        await AsServerUserAsync(
            Path.Combine(_bin, "initdb"), "-D", _data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync");
    }

    private Task PgCtlAsync(params string[] arguments) => AsServerUserAsync(Path.Combine(_bin, "pg_ctl"), ["-D", _data, .. arguments]);

    private static Task AsServerUserAsync(string file, params string[] arguments) => LocalProcesses.IsRoot
        ? LocalProcesses.RunAsync("runuser", ["-u", "postgres", "--", file, .. arguments], CommandTimeout)
        : LocalProcesses.RunAsync(file, arguments, CommandTimeout);

    private static string? FindBinaries()
    {
        var installed = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(version => Path.Combine(version, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var major) ? major : 0)
                .FirstOrDefault()
            : null;
        return installed ?? (LocalProcesses.FindOnPath("initdb") is { } initdb && LocalProcesses.FindOnPath("pg_ctl") is not null
            ? Path.GetDirectoryName(initdb)
            : null);
    }
}

/// <summary>A Redis server of the drill's own, on a free loopback port, as a child process the drill may SIGKILL.</summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _directory;

    private PrivateRedis(ChildProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>A StackExchange.Redis configuration string for <c>Cache:Redis</c>.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>A new server on <paramref name="port"/> (a free one when null); ignores the test without redis-server.</summary>
    public static async Task<PrivateRedis> StartAsync(int? port = null)
    {
        var server = LocalProcesses.FindOnPath("redis-server");
        if (server is null)
        {
            TestServices.Unavailable("No redis-server on PATH for a private Redis.");
        }

        var directory = Directory.CreateTempSubdirectory("formanova-drill-redis-").FullName;
        port ??= LocalProcesses.FreePort();
        var process = ChildProcess.Start(
            new ProcessStartInfo(
                server!,
                ["--bind", "127.0.0.1", "--port", $"{port}", "--save", "", "--appendonly", "no", "--dir", directory]));
        var redis = new PrivateRedis(process, directory, port.Value);
        await LocalProcesses.UntilAsync(redis.PingsAsync, TimeSpan.FromSeconds(30), $"the private Redis on port {port} to answer PING");
        return redis;
    }

    /// <summary>An empty server on the same port, as after a restart of a cache that keeps nothing on disk.</summary>
    public Task<PrivateRedis> RestartAsync() => StartAsync(Port);

    /// <summary>SIGKILL: the server dies with its connections, as in a crash or an OOM kill.</summary>
    public Task KillAsync() => _process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        LocalProcesses.DeleteDirectory(_directory);
    }

    private async Task<bool> PingsAsync()
    {
        if (_process.HasExited)
        {
            Assert.Fail($"The private redis-server exited with {_process.ExitCode} before answering:\n{_process.Tail}");
        }

        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
