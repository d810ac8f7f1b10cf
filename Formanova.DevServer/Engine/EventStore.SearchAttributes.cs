using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

internal partial interface IEventStore
{
    /// <summary>Replaces a namespace's registered custom search attributes (name to type) in one transaction.</summary>
    void SaveSearchAttributes(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes);

    List<(string Namespace, string Name, IndexedValueType Type)> LoadSearchAttributes();
}

internal sealed partial class VolatileEventStore
{
    public void SaveSearchAttributes(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes)
    {
    }

    public List<(string Namespace, string Name, IndexedValueType Type)> LoadSearchAttributes() => [];
}

/// <summary>Registered search attributes: a small table beside the log, like the namespaces, written by the operator service.</summary>
internal sealed partial class EventStore
{
    private const string SearchAttributesTable = """
        CREATE TABLE IF NOT EXISTS search_attributes(
            namespace TEXT NOT NULL, name TEXT NOT NULL, type INTEGER NOT NULL, PRIMARY KEY(namespace, name)) WITHOUT ROWID;
        """;

    public void SaveSearchAttributes(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes)
    {
        lock (_gate)
        {
            Execute(SearchAttributesTable);
            using var transaction = _connection.BeginTransaction();
            using (var delete = _connection.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM search_attributes WHERE namespace = $ns";
                delete.Parameters.AddWithValue("$ns", ns);
                delete.ExecuteNonQuery();
            }

            foreach (var (name, type) in attributes)
            {
                using var insert = _connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO search_attributes(namespace, name, type) VALUES ($ns, $name, $type)";
                insert.Parameters.AddWithValue("$ns", ns);
                insert.Parameters.AddWithValue("$name", name);
                insert.Parameters.AddWithValue("$type", (int)type);
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    public List<(string Namespace, string Name, IndexedValueType Type)> LoadSearchAttributes()
    {
        lock (_gate)
        {
            Execute(SearchAttributesTable);
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT namespace, name, type FROM search_attributes";
            using var reader = command.ExecuteReader();
            var result = new List<(string, string, IndexedValueType)>();
            while (reader.Read())
            {
                result.Add((reader.GetString(0), reader.GetString(1), (IndexedValueType)reader.GetInt32(2)));
            }

            return result;
        }
    }
}
