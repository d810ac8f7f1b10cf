using Formanova.Modules.Shared.Database;

namespace Formanova.Tests.Support;

/// <summary>The real host on a fresh database of one provider: what an HTTP fixture starts once and disposes once.</summary>
internal sealed class HostedDatabase : IAsyncDisposable
{
    private HostedDatabase(TestDatabase database, FormanovaFactory factory)
    {
        Database = database;
        Factory = factory;
        Client = factory.CreateClient();
    }

    public TestDatabase Database { get; }

    public FormanovaFactory Factory { get; }

    /// <summary>A client that sends the admin key.</summary>
    public HttpClient Client { get; }

    /// <summary>Ignores the fixture (through <see cref="TestDatabase"/>) when the provider's service is not configured.</summary>
    public static async Task<HostedDatabase> StartAsync(
        DatabaseProvider provider,
        IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        var database = await TestDatabase.CreateAsync(provider);
        return new HostedDatabase(database, new FormanovaFactory(database.Settings.Concat(settings ?? [])));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        await Database.DisposeAsync();
    }
}
