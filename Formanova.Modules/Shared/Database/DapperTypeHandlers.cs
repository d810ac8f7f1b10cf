using System.Data;
using System.Globalization;
using Dapper;

namespace Formanova.Modules.Shared.Database;

/// <summary>
/// SQLite hands timestamps back as ISO-8601 text and PostgreSQL as UTC <see cref="DateTime"/>; these handlers
/// make both arrive as <see cref="DateTimeOffset"/> so repositories never branch on the provider.
/// Row types should be classes with settable properties: Dapper's constructor mapping demands exact column
/// types, which differ between the providers (SQLite has no boolean or timestamp type).
/// </summary>
internal static class DapperTypeHandlers
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
    }

    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            // Npgsql only accepts offset 0 for timestamptz, and SQLite compares the text, so store UTC everywhere.
            parameter.Value = value.ToUniversalTime();
        }

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset dto => dto,
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
            string s => DateTimeOffset.Parse(
                s,
                CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            long ms => DateTimeOffset.FromUnixTimeMilliseconds(ms),
            _ => throw new DataException($"Cannot convert {value.GetType().Name} to DateTimeOffset."),
        };
    }
}
