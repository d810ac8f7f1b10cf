using Dapper;
using Formanova.Modules.Shared.Database;

namespace Formanova.Tests.Shared.Database;

public sealed class SqliteDatabaseTests
{
    [Test]
    public async Task OpenConnectionAsync_WhenOpened_WaitsForABusyWriterInsideSqliteForTheCommandTimeout()
    {
        var directory = Directory.CreateTempSubdirectory("formanova-sqlite-").FullName;
        try
        {
            var database = new SqliteDatabase(new DatabaseOptions { CommandTimeoutSeconds = 7 }, directory);

            await using (var connection = await database.OpenConnectionAsync())
            {
                var busyTimeout = await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout");
                var journal = await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode");
                Assert.Multiple(() =>
                {
                    Assert.That(busyTimeout, Is.EqualTo(7000));
                    Assert.That(journal, Is.EqualTo("wal"));
                });
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
