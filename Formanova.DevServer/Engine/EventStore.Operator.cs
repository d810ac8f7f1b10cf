using Temporalio.Api.Enums.V1;
using Endpoint = Temporalio.Api.Nexus.V1.Endpoint;

namespace Formanova.DevServer.Engine;

internal partial interface IEventStore
{
    /// <summary>Replaces a namespace's registered custom search attributes (name to type) in one transaction.</summary>
    void SaveSearchAttributes(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes);

    List<(string Namespace, string Name, IndexedValueType Type)> LoadSearchAttributes();

    /// <summary>Writes a Nexus endpoint record (insert or replace, by id).</summary>
    void SaveNexusEndpoint(Endpoint endpoint);

    void DeleteNexusEndpoint(string id);

    List<Endpoint> LoadNexusEndpoints();
}

internal sealed partial class VolatileEventStore
{
    public void SaveSearchAttributes(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes)
    {
    }

    public List<(string Namespace, string Name, IndexedValueType Type)> LoadSearchAttributes() => [];

    public void SaveNexusEndpoint(Endpoint endpoint)
    {
    }

    public void DeleteNexusEndpoint(string id)
    {
    }

    public List<Endpoint> LoadNexusEndpoints() => [];
}

/// <summary>
/// What the operator service registers: search attributes and Nexus endpoint records, small tables beside the log like the
/// namespaces, created on first use.
/// </summary>
internal sealed partial class EventStore
{
    private const string SearchAttributesTable = """
        CREATE TABLE IF NOT EXISTS search_attributes(
            namespace TEXT NOT NULL, name TEXT NOT NULL, type INTEGER NOT NULL, PRIMARY KEY(namespace, name)) WITHOUT ROWID;
        """;

    private const string NexusEndpointsTable =
        "CREATE TABLE IF NOT EXISTS nexus_endpoints(id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;";

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

    public void SaveNexusEndpoint(Endpoint endpoint)
    {
        var data = Google.Protobuf.MessageExtensions.ToByteArray(endpoint);
        lock (_gate)
        {
            Execute(NexusEndpointsTable);
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT OR REPLACE INTO nexus_endpoints(id, data) VALUES ($id, $data)";
            command.Parameters.AddWithValue("$id", endpoint.Id);
            command.Parameters.AddWithValue("$data", data);
            command.ExecuteNonQuery();
        }
    }

    public void DeleteNexusEndpoint(string id)
    {
        lock (_gate)
        {
            Execute(NexusEndpointsTable);
            using var command = _connection.CreateCommand();
            command.CommandText = "DELETE FROM nexus_endpoints WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            command.ExecuteNonQuery();
        }
    }

    public List<Endpoint> LoadNexusEndpoints()
    {
        lock (_gate)
        {
            Execute(NexusEndpointsTable);
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT data FROM nexus_endpoints";
            using var reader = command.ExecuteReader();
            var result = new List<Endpoint>();
            while (reader.Read())
            {
                result.Add(Endpoint.Parser.ParseFrom((byte[])reader.GetValue(0)));
            }

            return result;
        }
    }
}
