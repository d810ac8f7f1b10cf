namespace Formanova.DevServer.Engine;

/// <summary>Schedules, one row each: the whole state, rewritten after every change (Formanova.DevServer/Schedules).</summary>
internal interface IScheduleStore
{
    void SaveSchedule(string ns, string scheduleId, byte[] state);

    void DeleteSchedule(string ns, string scheduleId);

    List<(string Namespace, string ScheduleId, byte[] State)> LoadSchedules();
}

internal sealed partial class VolatileEventStore
{
    public void SaveSchedule(string ns, string scheduleId, byte[] state)
    {
    }

    public void DeleteSchedule(string ns, string scheduleId)
    {
    }

    public List<(string Namespace, string ScheduleId, byte[] State)> LoadSchedules() => [];
}

internal sealed partial class EventStore
{
    private bool _schedulesReady;

    public void SaveSchedule(string ns, string scheduleId, byte[] state)
    {
        lock (_gate)
        {
            EnsureSchedulesTable();
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT OR REPLACE INTO schedules(namespace, schedule_id, state) VALUES ($ns, $id, $state)";
            command.Parameters.AddWithValue("$ns", ns);
            command.Parameters.AddWithValue("$id", scheduleId);
            command.Parameters.AddWithValue("$state", state);
            command.ExecuteNonQuery();
        }
    }

    public void DeleteSchedule(string ns, string scheduleId)
    {
        lock (_gate)
        {
            EnsureSchedulesTable();
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM schedules WHERE namespace = $ns AND schedule_id = $id";
            command.Parameters.AddWithValue("$ns", ns);
            command.Parameters.AddWithValue("$id", scheduleId);
            command.ExecuteNonQuery();
        }
    }

    public List<(string Namespace, string ScheduleId, byte[] State)> LoadSchedules()
    {
        lock (_gate)
        {
            EnsureSchedulesTable();
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT namespace, schedule_id, state FROM schedules";
            using var reader = command.ExecuteReader();
            var result = new List<(string, string, byte[])>();
            while (reader.Read())
            {
                result.Add((reader.GetString(0), reader.GetString(1), (byte[])reader.GetValue(2)));
            }

            return result;
        }
    }

    // Created on first use, so files written before schedules existed gain the table without a migration step.
    private void EnsureSchedulesTable()
    {
        if (_schedulesReady)
        {
            return;
        }

        Execute("""
            CREATE TABLE IF NOT EXISTS schedules(
                namespace TEXT NOT NULL, schedule_id TEXT NOT NULL, state BLOB NOT NULL,
                PRIMARY KEY(namespace, schedule_id)) WITHOUT ROWID
            """);
        _schedulesReady = true;
    }
}
