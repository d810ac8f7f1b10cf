using Formanova.Modules.Data;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Data;

/// <summary>The Data module as workflows see it: <see cref="IDataModule"/> from the real registrations, on a migrated test
/// database.</summary>
internal sealed class DataHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly bool _ownsDatabase;

    private DataHarness(TestDatabase database, ServiceProvider services, bool ownsDatabase)
    {
        Database = database;
        _services = services;
        _ownsDatabase = ownsDatabase;
        Data = services.GetRequiredService<IDataModule>();
    }

    public TestDatabase Database { get; }

    public IDataModule Data { get; }

    public IServiceProvider Services => _services;

    public static async Task<DataHarness> CreateAsync(
        DatabaseProvider provider,
        IEnumerable<KeyValuePair<string, string?>>? settings = null) =>
        await CreateAsync(await TestDatabase.CreateAsync(provider), ownsDatabase: true, settings, clock: null);

    /// <summary>A second process on the same database (the caller keeps it), with its own clock.</summary>
    public static Task<DataHarness> CreateOnAsync(TestDatabase database, TimeProvider clock) =>
        CreateAsync(database, ownsDatabase: false, settings: null, clock);

    private static async Task<DataHarness> CreateAsync(
        TestDatabase database,
        bool ownsDatabase,
        IEnumerable<KeyValuePair<string, string?>>? settings,
        TimeProvider? clock)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(database.Settings.Concat(settings ?? [])).Build();
        var collection = new ServiceCollection().AddLogging();
        if (clock is not null)
        {
            collection.AddSingleton(clock);
        }

        var services = collection
            .AddFormanovaInfrastructure(configuration)
            .AddDataModule(configuration)
            .BuildServiceProvider();
        await services.GetRequiredService<Migrator>().MigrateAsync();
        return new DataHarness(database, services, ownsDatabase);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        if (_ownsDatabase)
        {
            await Database.DisposeAsync();
        }
    }
}
