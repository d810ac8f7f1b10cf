using Microsoft.Data.Sqlite;
using Temporalio.Api.History.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial record StoredRun(string Namespace, string WorkflowId, string RunId, string RequestId, List<HistoryEvent> Events)
{
    /// <summary>Last started attempt per pending activity (scheduled event id), so a crash counts as that attempt timing out.</summary>
    public Dictionary<long, int> StartedAttempts { get; } = [];

    /// <summary>Last heartbeat details per pending activity, handed to the attempt that runs after a restart.</summary>
    public Dictionary<long, Temporalio.Api.Common.V1.Payloads> HeartbeatDetails { get; } = [];
}

internal partial interface IEventStore : IScheduleStore, IDisposable
{
    /// <summary>
    /// Writes the runs' new events and activity records (<see cref="WorkflowRun.UnpersistedActivities"/>) in one transaction.
    /// </summary>
    void Append(params ReadOnlySpan<(WorkflowRun Run, IReadOnlyList<HistoryEvent> Events, bool IsNewRun)> batches);

    void DeleteRun(string runId);

    void SaveNamespace(string name, TimeSpan retention, string description);

    List<(string Name, TimeSpan Retention, string Description)> LoadNamespaces();

    /// <summary>
    /// Hands each stored run that has events, with its side state, to <paramref name="loaded"/> as soon as its events
    /// are read, in no particular order of runs.
    /// </summary>
    void LoadRuns(Action<StoredRun> loaded);

    /// <summary>One run's events in order (none from <c>:memory:</c>, which keeps no log).</summary>
    List<HistoryEvent> LoadHistory(string runId);
}

/// <summary>
/// <c>:memory:</c> storage: the runs already live in memory and nothing can be recovered after the process
/// ends, so a log would be pure cost (it was a third of the server's CPU per workflow, behind one lock).
/// </summary>
internal sealed partial class VolatileEventStore : IEventStore
{
    public void Append(params ReadOnlySpan<(WorkflowRun Run, IReadOnlyList<HistoryEvent> Events, bool IsNewRun)> batches)
    {
    }

    public void DeleteRun(string runId)
    {
    }

    public void SaveNamespace(string name, TimeSpan retention, string description)
    {
    }

    public List<(string Name, TimeSpan Retention, string Description)> LoadNamespaces() => [];

    public void LoadRuns(Action<StoredRun> loaded)
    {
    }

    public List<HistoryEvent> LoadHistory(string runId) => [];

    public void Dispose()
    {
    }
}

/// <summary>
/// Append-only log of history events per run in a SQLite file. Mutable state is never stored: recovery replays
/// these events, so what survives a crash is exactly what the workers were told.
/// </summary>
internal sealed partial class EventStore : IEventStore
{
    public static IEventStore Open(string path) => path == ":memory:" ? new VolatileEventStore() : new EventStore(path);

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();
    private readonly SqliteCommand _insertEvent;
    private readonly SqliteCommand _insertRun;
    private readonly SqliteCommand _recordAttempt;
    private readonly SqliteCommand _recordHeartbeat;

    private EventStore(string path)
    {
        if (path != ":memory:")
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
        }

        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        Execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS runs(
                run_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, workflow_id TEXT NOT NULL, request_id TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS events(
                run_id TEXT NOT NULL, event_id INTEGER NOT NULL, data BLOB NOT NULL,
                PRIMARY KEY(run_id, event_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS activity_attempts(
                run_id TEXT NOT NULL, scheduled_id INTEGER NOT NULL, attempt INTEGER NOT NULL,
                PRIMARY KEY(run_id, scheduled_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS namespaces(name TEXT PRIMARY KEY, retention_seconds INTEGER NOT NULL, description TEXT NOT NULL);
            """);
        Execute(ActivityPausesTable);
        // Files written before heartbeat details were kept lack the column.
        if (!ColumnExists("activity_attempts", "details"))
        {
            Execute("ALTER TABLE activity_attempts ADD COLUMN details BLOB");
        }

        _insertEvent = _connection.CreateCommand();
        _insertEvent.CommandText = "INSERT OR REPLACE INTO events(run_id, event_id, data) VALUES ($run, $id, $data)";
        _insertEvent.Parameters.Add("$run", SqliteType.Text);
        _insertEvent.Parameters.Add("$id", SqliteType.Integer);
        _insertEvent.Parameters.Add("$data", SqliteType.Blob);
        _insertRun = _connection.CreateCommand();
        _insertRun.CommandText = "INSERT OR IGNORE INTO runs(run_id, namespace, workflow_id, request_id) VALUES ($run, $ns, $wf, $req)";
        _insertRun.Parameters.Add("$run", SqliteType.Text);
        _insertRun.Parameters.Add("$ns", SqliteType.Text);
        _insertRun.Parameters.Add("$wf", SqliteType.Text);
        _insertRun.Parameters.Add("$req", SqliteType.Text);
        _recordAttempt = _connection.CreateCommand();
        // The details outlive the attempt: the next attempt, even after a restart, resumes from them.
        _recordAttempt.CommandText = """
            INSERT INTO activity_attempts(run_id, scheduled_id, attempt) VALUES ($run, $id, $attempt)
            ON CONFLICT(run_id, scheduled_id) DO UPDATE SET attempt = excluded.attempt
            """;
        _recordAttempt.Parameters.Add("$run", SqliteType.Text);
        _recordAttempt.Parameters.Add("$id", SqliteType.Integer);
        _recordAttempt.Parameters.Add("$attempt", SqliteType.Integer);
        _recordHeartbeat = _connection.CreateCommand();
        _recordHeartbeat.CommandText = """
            INSERT INTO activity_attempts(run_id, scheduled_id, attempt, details) VALUES ($run, $id, $attempt, $details)
            ON CONFLICT(run_id, scheduled_id) DO UPDATE SET details = excluded.details
            """;
        _recordHeartbeat.Parameters.Add("$run", SqliteType.Text);
        _recordHeartbeat.Parameters.Add("$id", SqliteType.Integer);
        _recordHeartbeat.Parameters.Add("$attempt", SqliteType.Integer);
        _recordHeartbeat.Parameters.Add("$details", SqliteType.Blob);
    }

    private bool ColumnExists(string table, string column)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $column";
        command.Parameters.AddWithValue("$column", column);
        return (long)command.ExecuteScalar()! > 0;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Writes the batches in one transaction (a closing run and the run that continues it commit together), with
    /// the activity attempts and heartbeat details recorded by the same RPC.
    /// </summary>
    public void Append(params ReadOnlySpan<(WorkflowRun Run, IReadOnlyList<HistoryEvent> Events, bool IsNewRun)> batches)
    {
        // Encoded before taking the store lock, which every run's appends share.
        var encoded = new List<byte[]>();
        foreach (var (run, events, _) in batches)
        {
            foreach (var e in events)
            {
                encoded.Add(Google.Protobuf.MessageExtensions.ToByteArray(e));
            }

            foreach (var record in run.UnpersistedActivities)
            {
                if (record.HeartbeatDetails is { } details)
                {
                    encoded.Add(Google.Protobuf.MessageExtensions.ToByteArray(details));
                }
            }
        }

        var index = 0;
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            _insertRun.Transaction = transaction;
            _insertEvent.Transaction = transaction;
            _recordAttempt.Transaction = transaction;
            _recordHeartbeat.Transaction = transaction;
            foreach (var (run, events, isNewRun) in batches)
            {
                if (isNewRun)
                {
                    _insertRun.Parameters["$run"].Value = run.RunId;
                    _insertRun.Parameters["$ns"].Value = run.Namespace;
                    _insertRun.Parameters["$wf"].Value = run.WorkflowId;
                    _insertRun.Parameters["$req"].Value = run.RequestId;
                    _insertRun.ExecuteNonQuery();
                }

                foreach (var e in events)
                {
                    _insertEvent.Parameters["$run"].Value = run.RunId;
                    _insertEvent.Parameters["$id"].Value = e.EventId;
                    _insertEvent.Parameters["$data"].Value = encoded[index++];
                    _insertEvent.ExecuteNonQuery();
                }

                foreach (var record in run.UnpersistedActivities)
                {
                    var command = record.HeartbeatDetails is null ? _recordAttempt : _recordHeartbeat;
                    command.Parameters["$run"].Value = run.RunId;
                    command.Parameters["$id"].Value = record.ScheduledEventId;
                    command.Parameters["$attempt"].Value = record.Attempt;
                    if (record.HeartbeatDetails is not null)
                    {
                        command.Parameters["$details"].Value = encoded[index++];
                    }

                    command.ExecuteNonQuery();
                }
            }

            transaction.Commit();
        }
    }

    public void DeleteRun(string runId)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                DELETE FROM events WHERE run_id = $run;
                DELETE FROM activity_attempts WHERE run_id = $run;
                DELETE FROM activity_pauses WHERE run_id = $run;
                DELETE FROM runs WHERE run_id = $run;
                """;
            command.Parameters.AddWithValue("$run", runId);
            command.ExecuteNonQuery();
        }
    }

    public void SaveNamespace(string name, TimeSpan retention, string description)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT OR REPLACE INTO namespaces(name, retention_seconds, description) VALUES ($n, $r, $d)";
            command.Parameters.AddWithValue("$n", name);
            command.Parameters.AddWithValue("$r", (long)retention.TotalSeconds);
            command.Parameters.AddWithValue("$d", description);
            command.ExecuteNonQuery();
        }
    }

    public List<(string Name, TimeSpan Retention, string Description)> LoadNamespaces()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT name, retention_seconds, description FROM namespaces";
            using var reader = command.ExecuteReader();
            var result = new List<(string, TimeSpan, string)>();
            while (reader.Read())
            {
                result.Add((reader.GetString(0), TimeSpan.FromSeconds(reader.GetInt64(1)), reader.GetString(2)));
            }

            return result;
        }
    }

    public List<HistoryEvent> LoadHistory(string runId)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT data FROM events WHERE run_id = $run ORDER BY event_id";
            command.Parameters.AddWithValue("$run", runId);
            using var reader = command.ExecuteReader();
            var events = new List<HistoryEvent>();
            while (reader.Read())
            {
                events.Add(HistoryEvent.Parser.ParseFrom((byte[])reader.GetValue(0)));
            }

            return events;
        }
    }

    public void LoadRuns(Action<StoredRun> loaded)
    {
        lock (_gate)
        {
            var runs = new Dictionary<string, StoredRun>();
            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "SELECT run_id, namespace, workflow_id, request_id FROM runs";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    runs[reader.GetString(0)] = new StoredRun(
                        reader.GetString(1),
                        reader.GetString(2),
                        reader.GetString(0),
                        reader.GetString(3),
                        []);
                }
            }

            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "SELECT run_id, scheduled_id, attempt, details FROM activity_attempts";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    if (runs.TryGetValue(reader.GetString(0), out var run))
                    {
                        run.StartedAttempts[reader.GetInt64(1)] = reader.GetInt32(2);
                        if (!reader.IsDBNull(3))
                        {
                            run.HeartbeatDetails[reader.GetInt64(1)] = Temporalio.Api.Common.V1.Payloads.Parser
                                .ParseFrom((byte[])reader.GetValue(3));
                        }
                    }
                }
            }

            LoadActivityPauses(runs);
            // The events last, one run at a time: the caller replays each run as soon as its events are read and can
            // let a closed run's go, so recovery never holds every retained run's history at once.
            using (var command = _connection.CreateCommand())
            {
                command.CommandText = "SELECT run_id, data FROM events ORDER BY run_id, event_id";
                using var reader = command.ExecuteReader();
                StoredRun? current = null;
                while (reader.Read())
                {
                    var runId = reader.GetString(0);
                    if (current?.RunId != runId)
                    {
                        if (current is not null)
                        {
                            loaded(current);
                        }

                        current = runs.GetValueOrDefault(runId);
                    }

                    current?.Events.Add(HistoryEvent.Parser.ParseFrom((byte[])reader.GetValue(1)));
                }

                if (current is not null)
                {
                    loaded(current);
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _insertEvent.Dispose();
            _insertRun.Dispose();
            _recordAttempt.Dispose();
            _recordHeartbeat.Dispose();
            _connection.Dispose();
        }
    }
}
