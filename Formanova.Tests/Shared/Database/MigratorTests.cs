using Dapper;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Formanova.Tests.Shared.Database;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
[Category("Integration")]
public sealed class MigratorTests(DatabaseProvider provider)
{
    private TestDatabase _db = null!;

    [SetUp]
    public async Task SetUp() => _db = await TestDatabase.CreateAsync(provider);

    [TearDown]
    public async Task TearDown() => await _db.DisposeAsync();

    private static MigrationSet Notes(params Migration[] migrations) => new("notes", migrations);

    private static Migration Script(int version, string name, string sql)
        => new(version, name, new Dictionary<string, string> { [""] = sql });

    private static readonly Migration CreateNotes = Script(1, "create_notes", """
        CREATE TABLE notes (id {{id}}, body TEXT NOT NULL, created_at {{timestamp}} NOT NULL, pinned {{bool}} NOT NULL, payload {{bytes}});
        CREATE INDEX ix_notes_created ON notes (created_at);
        """);

    private Migrator MigratorFor(params MigrationSet[] sets) => new(_db.Database, sets, TimeProvider.System, NullLogger<Migrator>.Instance);

    [Test]
    public async Task MigrateAsync_WhenRunTwice_AppliesEachScriptOnce()
    {
        var first = await MigratorFor(Notes(CreateNotes)).MigrateAsync();
        var second = await MigratorFor(Notes(CreateNotes)).MigrateAsync();

        await using var connection = await _db.Database.OpenConnectionAsync();
        var recorded = await connection.QueryAsync<(string, long, string)>("SELECT module, version, name FROM schema_versions");
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(1));
            Assert.That(second, Is.Zero);
            Assert.That(recorded, Is.EqualTo(new[] { ("notes", 1L, "create_notes") }));
        });
    }

    [Test]
    public async Task MigrateAsync_WhenTablesUseDialectTokens_RoundTripsTimestampsBooleansAndBytes()
    {
        await MigratorFor(Notes(CreateNotes)).MigrateAsync();
        var created = new DateTimeOffset(2026, 11, 26, 10, 30, 15, 123, TimeSpan.FromHours(2));

        await using var connection = await _db.Database.OpenConnectionAsync();
        var id = await connection.ExecuteScalarAsync<long>(
            "INSERT INTO notes (body, created_at, pinned, payload) VALUES (@Body, @CreatedAt, @Pinned, @Payload) RETURNING id",
            new { Body = "hello", CreatedAt = created, Pinned = true, Payload = new byte[] { 1, 2, 3 } });
        var row = await connection.QuerySingleAsync<NoteRow>(
            "SELECT id, body, created_at, pinned, payload FROM notes WHERE id = @id",
            new { id });

        Assert.Multiple(() =>
        {
            Assert.That(row.Body, Is.EqualTo("hello"));
            Assert.That(row.CreatedAt, Is.EqualTo(created));
            Assert.That(row.CreatedAt.Offset, Is.EqualTo(TimeSpan.Zero));
            Assert.That(row.Pinned, Is.True);
            Assert.That(row.Payload, Is.EqualTo(new byte[] { 1, 2, 3 }));
        });
    }

    [Test]
    public async Task MigrateAsync_WhenAScriptFails_RollsItBackAndRecordsNothingForIt()
    {
        var broken = Script(2, "broken", "CREATE TABLE half_done (id INTEGER); SELECT * FROM table_that_does_not_exist;");

        Assert.That(async () => await MigratorFor(Notes(CreateNotes, broken)).MigrateAsync(), Throws.Exception);

        await using var connection = await _db.Database.OpenConnectionAsync();
        var versions = await connection.QueryAsync<long>("SELECT version FROM schema_versions WHERE module = 'notes'");
        Assert.That(versions, Is.EqualTo(new[] { 1L }), "the first script stays applied, the broken one leaves no row");
        Assert.That(
            async () => await connection.ExecuteAsync("SELECT * FROM half_done"),
            Throws.Exception,
            "the broken script's table was rolled back");
    }

    [Test]
    public async Task MigrateAsync_WhenManyInstancesStartAtOnce_AppliesEachScriptExactlyOnce()
    {
        var counter = Script(2, "count_runs", "CREATE TABLE runs (n INTEGER); INSERT INTO runs (n) VALUES (1);");
        var migrators = Enumerable.Range(0, 6).Select(_ => MigratorFor(Notes(CreateNotes, counter))).ToList();

        var applied = await Task.WhenAll(migrators.Select(m => Task.Run(() => m.MigrateAsync())));

        await using var connection = await _db.Database.OpenConnectionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(applied.Sum(), Is.EqualTo(2));
            Assert.That(await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM runs"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task MigrateAsync_WhenADialectSpecificScriptExists_UsesItForThatProviderOnly()
    {
        var specific = new Migration(1, "marker", new Dictionary<string, string>
        {
            [".postgres.sql"] = "CREATE TABLE marker AS SELECT 'postgres' AS engine",
            [".sqlite.sql"] = "CREATE TABLE marker AS SELECT 'sqlite' AS engine",
        });

        await MigratorFor(Notes(specific)).MigrateAsync();

        await using var connection = await _db.Database.OpenConnectionAsync();
        var engine = await connection.ExecuteScalarAsync<string>("SELECT engine FROM marker");
        Assert.That(engine, Is.EqualTo(provider == DatabaseProvider.Postgres ? "postgres" : "sqlite"));
    }

    [Test]
    public async Task MigrateAsync_WhenAModuleGainsAScriptAfterItsShippedOnes_AppliesOnlyThatScript()
    {
        var modules = new[] { ("access", "Access"), ("data", "Data"), ("event", "Event"), ("model", "Model") }
            .Select(m => MigrationSet.FromEmbeddedResources(m.Item1, typeof(SharedInfrastructure).Assembly, $"{m.Item2}/Migrations"))
            .ToList();
        var shipped = await MigratorFor([.. modules]).MigrateAsync();
        var data = modules.Single(m => m.Module == "data");
        var nextVersion = data.Migrations.Max(m => m.Version) + 1;
        var next = Script(nextVersion, "add_note", "ALTER TABLE data_datasets ADD COLUMN note TEXT NULL");

        var applied = await MigratorFor([.. modules.Where(m => m != data), data with { Migrations = [.. data.Migrations, next] }])
            .MigrateAsync();

        await using var connection = await _db.Database.OpenConnectionAsync();
        var versions = await connection.QueryAsync<(string, long)>("SELECT module, version FROM schema_versions ORDER BY module, version");
        var expected = modules.SelectMany(m => m.Migrations.Select(s => (Module: m.Module, Version: (long)s.Version)))
            .Append((Module: "data", Version: (long)nextVersion))
            .OrderBy(v => v.Module, StringComparer.Ordinal)
            .ThenBy(v => v.Version);
        Assert.Multiple(async () =>
        {
            Assert.That(modules.Select(m => m.Migrations[0].Version), Is.All.EqualTo(1), "every module starts from its baseline");
            Assert.That(shipped, Is.EqualTo(modules.Sum(m => m.Migrations.Count)), "every shipped script runs once");
            Assert.That(applied, Is.EqualTo(1));
            Assert.That(versions, Is.EqualTo(expected));
            Assert.That(await connection.ExecuteScalarAsync<long>("SELECT COUNT(note) FROM data_datasets"), Is.Zero);
        });
    }

    private sealed class NoteRow
    {
        public long Id { get; init; }

        public string Body { get; init; } = "";

        public DateTimeOffset CreatedAt { get; init; }

        public bool Pinned { get; init; }

        public byte[] Payload { get; init; } = [];
    }
}
