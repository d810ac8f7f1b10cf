using System.Net;
using Dapper;
using Formanova.Host.Security;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Formanova.Tests.Host.Security;

[Category("Integration")]
public sealed class BootstrapKeyServiceTests
{
    private const string RecoveryKey = "fnv_recovery-key-0123456789abcdefghij";

    private string _dataDirectory = null!;

    [SetUp]
    public void SetUp() => _dataDirectory = Directory.CreateTempSubdirectory("formanova-bootstrap-").FullName;

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Test]
    public async Task Start_WhenEveryAdminKeyWasRevoked_InstallsTheBootstrapKeyAndWarns()
    {
        await LockOutAsync();
        var logs = new LogCapture();

        using var restarted = Factory(RecoveryKey, logs);
        using var client = restarted.CreateClientWithKey(RecoveryKey);

        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var old = restarted.CreateClient();
        Assert.That(
            (await old.GetAsync("/api/v1/keys")).StatusCode,
            Is.EqualTo(HttpStatusCode.Unauthorized),
            "the revoked key stays revoked");
        var warning = logs.Of(typeof(BootstrapKeyService).FullName!).Single();
        Assert.That(warning.Level, Is.EqualTo(LogLevel.Warning));
        Assert.That(warning.Message, Does.Contain("No active admin API key existed").And.Contain("Auth:BootstrapKey was installed"));
        Assert.That(logs.Entries.Select(e => e.Message), Has.None.Contain(RecoveryKey));
    }

    [Test]
    public async Task Start_WhenEveryAdminKeyWasRevokedAndTheBootstrapKeyIsTheRevokedOne_StaysLockedAndSaysWhy()
    {
        await LockOutAsync();
        var logs = new LogCapture();

        using var restarted = Factory(FormanovaFactory.AdminKey, logs);
        using var client = restarted.CreateClient();

        Assert.That((await client.GetAsync("/api/v1/keys")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        var error = logs.Of(typeof(BootstrapKeyService).FullName!).Single();
        Assert.That(error.Level, Is.EqualTo(LogLevel.Error));
        Assert.That(error.Message, Does.Contain("is a key that was revoked"));
    }

    /// <summary>Starts on the data directory with the test admin key, then revokes it behind the API's back, as before the last-admin
    /// rule.</summary>
    private async Task LockOutAsync()
    {
        using var first = Factory(FormanovaFactory.AdminKey, null);
        await using var connection = await first.Services.GetRequiredService<IDatabase>().OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE access_api_keys SET revoked_at = @now", new { now = DateTimeOffset.UtcNow });
    }

    private FormanovaFactory Factory(string bootstrapKey, LogCapture? logs) => new(
        [new("Formanova:DataDirectory", _dataDirectory), new("Auth:BootstrapKey", bootstrapKey), new("Model:Bootstrap:Enabled", "false")],
        services =>
        {
            if (logs is not null)
            {
                services.AddSingleton<ILoggerProvider>(logs);
            }
        });
}
