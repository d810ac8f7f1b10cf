using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Formanova.Tests.Host.Security;

[Category("Integration")]
public sealed class SecretHandlingTests
{
    [Test]
    public async Task Logs_DuringARunWithSecretsInPlay_NeverContainThem()
    {
        const string password = "pg-password-that-must-not-leak";
        const string webhookSecret = "webhook-secret-that-must-not-leak";
        await using var db = await TestDatabase.CreateAsync(DatabaseProvider.Postgres);
        var connectionString = new NpgsqlConnectionStringBuilder(db.Options.ConnectionString) { Password = password }.ConnectionString;
        var logs = new CollectingLoggerProvider();
        using var factory = new FormanovaFactory(
            [
                .. db.Settings, new("Database:ConnectionString", connectionString), new("Event:Webhooks:AllowLoopback", "true"), new(
                "Model:Bootstrap:Enabled",
                "false")
            ],
            services => services.AddSingleton<ILoggerProvider>(logs));
        using var admin = factory.CreateClient();

        var created = await admin.PostAsJsonAsync("/api/v1/keys", new { name = "client", scopes = new[] { "read" } });
        var clientKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
        using (var client = factory.CreateClientWithKey(clientKey))
        {
            Assert.That((await client.GetAsync("/api/v1/models")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(
                (await client.PostAsJsonAsync("/api/v1/keys", new { name = "x", scopes = new[] { "admin" } })).StatusCode,
                Is.EqualTo(HttpStatusCode.Forbidden));
        }

        using (var wrong = factory.CreateClientWithKey(clientKey + "x"))
        {
            Assert.That((await wrong.GetAsync("/api/v1/models")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }

        var hook = await admin.PostAsJsonAsync(
            "/api/v1/events/webhooks",
            new { url = "http://127.0.0.1:9/hook", eventTypes = new[] { "*" }, secret = webhookSecret });
        Assert.That(hook.StatusCode, Is.EqualTo(HttpStatusCode.Created), await hook.Content.ReadAsStringAsync());
        await admin.PostAsJsonAsync("/api/v1/events", new { type = "MODEL_ACTIVATED", source = "/modules/model" });
        var health = await admin.GetStringAsync("/health/ready");

        var text = logs.Text();
        Assert.Multiple(() =>
        {
            Assert.That(logs.Count, Is.GreaterThan(10), "the collector saw the run's logs");
            foreach (var secret in new[] { password, webhookSecret, clientKey, FormanovaFactory.AdminKey })
            {
                Assert.That(text, Does.Not.Contain(secret));
                Assert.That(health, Does.Not.Contain(secret));
            }
        });
    }

    [Test]
    public async Task Probes_WhenOpenProbesIsFalse_NeedTheReadScope()
    {
        using var factory = new FormanovaFactory([new("Auth:OpenProbes", "false")]);
        using var anonymous = factory.CreateClientWithKey(null);
        using var admin = factory.CreateClient();

        Assert.That((await anonymous.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await anonymous.GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await admin.GetAsync("/health/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Cors_WhenAnOriginIsAllowed_AnswersPreflightForItAlone()
    {
        using var factory = new FormanovaFactory([new("Http:CorsAllowedOrigins:0", "https://app.example.com")]);
        using var client = factory.CreateClientWithKey(null);

        async Task<HttpResponseMessage> PreflightAsync(string origin)
        {
            using var request = new HttpRequestMessage(HttpMethod.Options, "/api/v1/models");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "GET");
            request.Headers.Add("Access-Control-Request-Headers", "authorization");
            return await client.SendAsync(request);
        }

        var allowed = await PreflightAsync("https://app.example.com");
        var other = await PreflightAsync("https://evil.example.net");

        Assert.That(
            allowed.Headers.TryGetValues("Access-Control-Allow-Origin", out var origins) ? origins : [],
            Is.EqualTo(new[] { "https://app.example.com" }));
        Assert.That(other.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
    }

    [Test]
    public async Task OpenApi_WhenServed_DeclaresBothWaysToPresentTheApiKey()
    {
        using var factory = new FormanovaFactory();
        using var client = factory.CreateClientWithKey(null);

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.That(schemes.GetProperty("bearer").GetProperty("scheme").GetString(), Is.EqualTo("bearer"));
        Assert.That(schemes.GetProperty("apiKeyHeader").GetProperty("name").GetString(), Is.EqualTo("X-Api-Key"));
        Assert.That(schemes.GetProperty("apiKeyHeader").GetProperty("in").GetString(), Is.EqualTo("header"));

        // Two requirements, each naming one scheme: either is enough.
        var requirements = document.GetProperty("security").EnumerateArray().Select(r => r.EnumerateObject().Single().Name);
        Assert.That(requirements, Is.EquivalentTo(new[] { "bearer", "apiKeyHeader" }));
    }

    /// <summary>Collects each line with its scopes too: a secret in a scope (a path, a header) would leak just the same.</summary>
    private sealed class CollectingLoggerProvider : ILoggerProvider, ISupportExternalScope
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public int Count => _lines.Count;

        public string Text() => string.Join('\n', _lines);

        public ILogger CreateLogger(string categoryName) => new Collector(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Collector(CollectingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(
                LogLevel logLevel,
                EventId eventId,
                TState state,
                Exception? exception,
                Func<TState, Exception?, string> formatter) =>
                owner._lines.Enqueue($"{category} {logLevel} {formatter(state, exception)} {state} {exception} {Scopes()}");

            private string Scopes()
            {
                var text = new System.Text.StringBuilder();
                owner._scopes.ForEachScope((scope, builder) =>
                {
                    builder.Append(scope).Append(' ');
                    if (scope is IEnumerable<KeyValuePair<string, object?>> fields)
                    {
                        foreach (var (key, value) in fields)
                        {
                            builder.Append(key).Append('=').Append(value).Append(' ');
                        }
                    }
                }, text);
                return text.ToString();
            }
        }
    }
}
