using Microsoft.Data.Sqlite;
using Temporalio.Api.Workflow.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial record StoredRun
{
    /// <summary>Paused activities (scheduled event id) and how they were paused.</summary>
    public Dictionary<long, PendingActivityInfo.Types.PauseInfo> ActivityPauses { get; } = [];
}

internal partial interface IEventStore
{
    /// <summary>Records (or, with null, lifts) an activity's pause at once, in its own transaction.</summary>
    void SaveActivityPause(string runId, long scheduledId, PendingActivityInfo.Types.PauseInfo? pause);
}

internal sealed partial class VolatileEventStore
{
    public void SaveActivityPause(string runId, long scheduledId, PendingActivityInfo.Types.PauseInfo? pause)
    {
    }
}

internal sealed partial class EventStore
{
    private const string ActivityPausesTable = """
        CREATE TABLE IF NOT EXISTS activity_pauses(
            run_id TEXT NOT NULL, scheduled_id INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY(run_id, scheduled_id)) WITHOUT ROWID;
        """;

    public void SaveActivityPause(string runId, long scheduledId, PendingActivityInfo.Types.PauseInfo? pause)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = pause is null
                ? "DELETE FROM activity_pauses WHERE run_id = $run AND scheduled_id = $id"
                : "INSERT OR REPLACE INTO activity_pauses(run_id, scheduled_id, data) VALUES ($run, $id, $data)";
            command.Parameters.AddWithValue("$run", runId);
            command.Parameters.AddWithValue("$id", scheduledId);
            if (pause is not null)
            {
                command.Parameters.Add("$data", SqliteType.Blob).Value = Google.Protobuf.MessageExtensions.ToByteArray(pause);
            }

            command.ExecuteNonQuery();
        }
    }

    /// <summary>Called by <see cref="LoadRuns"/> under the store lock.</summary>
    private void LoadActivityPauses(Dictionary<string, StoredRun> runs)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT run_id, scheduled_id, data FROM activity_pauses";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (runs.TryGetValue(reader.GetString(0), out var run))
            {
                run.ActivityPauses[reader.GetInt64(1)] = PendingActivityInfo.Types.PauseInfo.Parser.ParseFrom((byte[])reader.GetValue(2));
            }
        }
    }
}
