using Microsoft.Data.Sqlite;
using Npgsql;

namespace Formanova.Modules.Shared.Database;

/// <summary>
/// Tells a database that is unreachable or momentarily unable to serve (PostgreSQL down, restarting, out of
/// connections; SQLite busy) from a failure that retrying cannot fix. The API answers the first with 503 and
/// Retry-After, and workflows retry it, instead of a 500 or a failed run.
/// </summary>
public static class DatabaseFailures
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>Whether <paramref name="exception"/>, or any exception it wraps, is such a transient database failure.</summary>
    public static bool IsTransient(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                // Npgsql marks connection failures, timeouts and PostgreSQL's own transient states (cannot connect
                // now, too many connections...). 57P01/57P02 end a session when the server shuts down or crashes.
                case PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown }:
                case NpgsqlException { IsTransient: true }:
                case SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked }:
                    return true;
                case AggregateException aggregate when aggregate.InnerExceptions.Any(IsTransient):
                    return true;
            }
        }

        return false;
    }
}
