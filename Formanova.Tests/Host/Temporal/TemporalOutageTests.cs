using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Formanova.DevServer;
using Formanova.Modules.Shared.Database;
using Formanova.Tests.Data;
using Formanova.Tests.Support;
using static Formanova.Tests.Workflows.WorkflowTestKit;

namespace Formanova.Tests.Host.Temporal;

/// <summary>
/// Temporal unreachable: <c>Temporal:Address</c> on a loopback port nobody listens on. What readiness answers for
/// each role, which requests answer 503, and that the rest of the API is served.
/// </summary>
[Category("Integration")]
public sealed class TemporalOutageTests
{
    private const int ConnectTimeoutSeconds = 2;

    [TestCase("api", HttpStatusCode.OK, "Degraded", null)]
    [TestCase("worker", HttpStatusCode.ServiceUnavailable, "Unhealthy", "waitingForTemporal")]
    [TestCase("api,worker", HttpStatusCode.OK, "Degraded", "waitingForTemporal")]
    public async Task Ready_WhenTemporalIsUnreachable_AnswersForTheRoles(
        string roles,
        HttpStatusCode expected,
        string temporalStatus,
        string? workerState)
    {
        using var port = new ClosedPort();
        using var factory = new FormanovaFactory(Settings([.. Unreachable(roles, port.Number), ("Model:Bootstrap:Enabled", "false")]));
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health/ready");
        var body = await ReadAsync(response);
        var temporal = body["checks"]!["temporal"]!;

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(expected), body.ToJsonString());
            Assert.That((string?)body["status"], Is.EqualTo(temporalStatus));
            Assert.That((string?)temporal["status"], Is.EqualTo(temporalStatus));
            Assert.That((string?)temporal["description"], Does.Contain("is unreachable (connection failed: Connection refused)"));
            Assert.That((string?)temporal["data"]!["roles"], Is.EqualTo(roles));
            Assert.That((string?)temporal["data"]!["worker"], Is.EqualTo(workerState));
        });
    }

    [TestCaseSource(typeof(TestDatabase), nameof(TestDatabase.ProviderCases))]
    public async Task Api_WhenTemporalIsUnreachable_AnswersWorkflowEndpointsWith503AndServesTheRest(DatabaseProvider provider)
    {
        await using var database = await TestDatabase.CreateAsync(provider);
        using var port = new ClosedPort();
        using var factory = new FormanovaFactory(Settings(Unreachable("api", port.Number)).Concat(database.Settings));
        var client = await ClientAsync(factory);

        (HttpMethod Method, string Path, object? Body)[] needTemporal =
        [
            (HttpMethod.Post, "/api/v1/predictions", Body()),
            (HttpMethod.Post, "/api/v1/jobs", Body()),
            (HttpMethod.Get, "/api/v1/jobs", null),
            (HttpMethod.Get, "/api/v1/jobs/job-0123", null),
            (HttpMethod.Post, "/api/v1/jobs/job-0123/pause", null),
            (HttpMethod.Get, "/api/v1/training-runs/training-0123", null),
        ];
        foreach (var (method, path, body) in needTemporal)
        {
            using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            var watch = Stopwatch.StartNew();
            using var response = await client.SendAsync(request);
            var elapsed = watch.Elapsed;
            var problem = await ReadAsync(response);
            Assert.Multiple(() =>
            {
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), $"{method} {path}: {problem}");
                Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)), $"{method} {path}");
                Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
                Assert.That((string?)problem["detail"], Does.Contain("(Temporal) is unreachable"));
                Assert.That(elapsed, Is.LessThan(TimeSpan.FromSeconds(ConnectTimeoutSeconds + 1)), $"{method} {path} answered promptly");
            });
        }

        var malformed = await client.PostAsJsonAsync("/api/v1/jobs", new { model = DemoModel });
        var predicted = await client.PostAsJsonAsync($"/api/v1/models/{DemoModel}/predict", new { inputs = ValidInput() });
        var dataset = await DataTestSupport.CreateAsync(client);
        var read = await client.GetAsync($"/api/v1/datasets/{dataset.Id}");
        var ready = await client.GetAsync("/health/ready");
        Assert.Multiple(() =>
        {
            Assert.That(malformed.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), "validation still comes first");
            Assert.That(predicted.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the direct predict path needs no Temporal");
            Assert.That(read.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        });
    }

    [Test]
    public async Task BothRoles_WhenTemporalAnswersAgain_TheWaitingWorkerPollsAndWorkflowsRun()
    {
        using var port = new ClosedPort();
        // Declared first, so disposed last: the host's worker stops while its server still answers.
        await using var temporal = new DevServerHost();
        using var factory = new FormanovaFactory(Settings(Unreachable("api,worker", port.Number)));
        var client = await ClientAsync(factory);
        var refused = await client.PostAsJsonAsync("/api/v1/predictions", Body());
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));

        port.Dispose();
        await temporal.StartAsync(new DevServerOptions { Port = port.Number, StoragePath = ":memory:" });
        static string? Status(JsonObject? health) => (string?)health?["checks"]?["temporal"]?["status"];
        await UntilAsync(
            async () => Status(await client.GetFromJsonAsync<JsonObject>("/health/ready")) == "Healthy",
            TimeSpan.FromSeconds(60),
            "the worker to poll");
        var response = await client.PostAsJsonAsync("/api/v1/predictions", Body());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That((string?)(await ReadAsync(response))["label"], Is.Not.Null.And.Not.Empty);
    }

    private static (string Key, string? Value)[] Unreachable(string roles, int port) =>
    [
        ("Formanova:Roles", roles),
        ("Temporal:Address", $"127.0.0.1:{port}"),
        ("Temporal:ConnectTimeoutSeconds", ConnectTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>
    /// A loopback port bound but not listening: connections to it are refused, and no other process (another test
    /// host's embedded server on an ephemeral port, say) can take it while it is held.
    /// </summary>
    private sealed class ClosedPort : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public ClosedPort()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            Number = ((IPEndPoint)_socket.LocalEndPoint!).Port;
        }

        public int Number { get; }

        public void Dispose() => _socket.Dispose();
    }
}
