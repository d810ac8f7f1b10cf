using Formanova.Modules.Data.Outcomes;
using Microsoft.Data.Sqlite;

namespace Formanova.Tests.Data.Outcomes;

public sealed class SqlitePredictionInsertTests
{
    // Every query on predicted_at binds its DateTimeOffset through Microsoft.Data.Sqlite and compares the text: the
    // positional insert must write the very same text, or windows and sweeps would miss rows.
    [TestCase("2026-12-07T15:04:05.0000000+00:00")]
    [TestCase("2026-12-07T15:04:05.1230000+00:00")]
    [TestCase("2026-12-07T15:04:05.1234567+00:00")]
    [TestCase("2026-12-07T23:59:59.9999999+02:00")]
    [TestCase("2026-01-01T00:00:00.5000000-05:30")]
    public void Timestamp_WhenFormatted_IsTheTextMicrosoftDataSqliteBinds(string value)
    {
        var at = DateTimeOffset.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT @at";
        command.Parameters.AddWithValue("@at", at.ToUniversalTime());

        Assert.That(SqlitePredictionInsert.Timestamp(at), Is.EqualTo((string)command.ExecuteScalar()!));
    }
}
