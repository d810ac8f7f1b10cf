using Formanova.Modules.Data;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Formanova.Tests.Data;

/// <summary>The Data module as workflows see it: <see cref="IDataModule"/> from the real registrations, on a migrated test database.</summary>
internal sealed class DataHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private DataHarness(TestDatabase database, ServiceProvider services)
    {
        Database = database;
        _services = services;
        Data = services.GetRequiredService<IDataModule>();
    }

    public TestDatabase Database { get; }

    public IDataModule Data { get; }

    public IServiceProvider Services => _services;

    public static async Task<DataHarness> CreateAsync(DatabaseProvider provider, IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        var database = await TestDatabase.CreateAsync(provider);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(database.Settings.Concat(settings ?? [])).Build();
        var services = new ServiceCollection()
            .AddLogging()
            .AddFormanovaInfrastructure(configuration)
            .AddDataModule(configuration)
            .BuildServiceProvider();
        await services.GetRequiredService<Migrator>().MigrateAsync();
        return new DataHarness(database, services);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Database.DisposeAsync();
    }
}
