using System.Net;
using System.Text.Json;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Npgsql;

namespace Formanova.Tests.Host;

[Category("Integration")]
public sealed class HealthEndpointTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(FormanovaFactory factory, string path)
    {
        using var client = factory.CreateClient();
        var response = await client.GetAsync(path);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone());
    }

    [Test]
    public async Task Live_WhenHostIsRunning_Returns200WithoutRunningChecks()
    {
        using var factory = new FormanovaFactory();

        var (status, body) = await GetAsync(factory, "/health/live");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("Healthy"));
        Assert.That(body.GetProperty("checks").EnumerateObject(), Is.Empty);
    }

    [Test]
    public async Task Ready_WhenEmbeddedSqliteIsUsed_Returns200AndChecksTheDatabase()
    {
        using var factory = new FormanovaFactory();

        var (status, body) = await GetAsync(factory, "/health/ready");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        var database = body.GetProperty("checks").GetProperty("database");
        Assert.That(database.GetProperty("status").GetString(), Is.EqualTo("Healthy"));
        Assert.That(database.GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo("Sqlite"));
        Assert.That(File.Exists(Path.Combine(factory.DataDirectory, "formanova.db")), Is.True);
    }

    [Test]
    public async Task Ready_WhenPostgresAndRedisAreConfigured_ChecksBothAndHidesThePassword()
    {
        await using var db = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var connectionString = new NpgsqlConnectionStringBuilder(db.Options.ConnectionString) { Password = "not-a-real-secret" }
            .ConnectionString;
        using var factory = new FormanovaFactory(db.Settings.Append(new("Database:ConnectionString", connectionString))
            .Append(new("Cache:Redis", TestServices.Redis()))
            .Append(TestServices.RedisTimeout));

        using var client = factory.CreateClient();
        var response = await client.GetAsync("/health/ready");
        var text = await response.Content.ReadAsStringAsync();
        var checks = JsonDocument.Parse(text).RootElement.GetProperty("checks");

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
            Assert.That(checks.GetProperty("database").GetProperty("data").GetProperty("provider").GetString(), Is.EqualTo("Postgres"));
            Assert.That(checks.GetProperty("redis").GetProperty("status").GetString(), Is.EqualTo("Healthy"));
            Assert.That(text, Does.Not.Contain("not-a-real-secret"));
        });
    }

    [Test]
    public async Task Ready_WhenRedisIsDown_Returns200Degraded()
    {
        using var factory = new FormanovaFactory([new("Cache:Redis", "127.0.0.1:1,connectTimeout=200")]);

        var (status, body) = await GetAsync(factory, "/health/ready");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("Degraded"));
        Assert.That(body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString(), Is.EqualTo("Degraded"));
    }

    [Test]
    public async Task Ready_WhenTheDatabaseDisappears_Returns503()
    {
        await using var db = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        using var factory = new FormanovaFactory(db.Settings);
        Assert.That((await GetAsync(factory, "/health/ready")).Status, Is.EqualTo(HttpStatusCode.OK));

        await using (var admin = new NpgsqlConnection(TestServices.Postgres()))
        {
            await admin.OpenAsync();
            var name = new NpgsqlConnectionStringBuilder(db.Options.ConnectionString).Database;
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }

        var (status, body) = await GetAsync(factory, "/health/ready");
        Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString(), Is.EqualTo("Unhealthy"));
    }

    [Test]
    public async Task Post_WhenHealthEndpointIsCalledWithWrongMethod_Returns405ProblemDetails()
    {
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClient();

        var response = await client.PostAsync("/health/live", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [Test]
    public async Task OpenApi_WhenRequested_ServesTheDocument()
    {
        using var factory = new FormanovaFactory();

        var (status, body) = await GetAsync(factory, "/openapi/v1.json");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("openapi").GetString(), Does.StartWith("3."));
    }
}
