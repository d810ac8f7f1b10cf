using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Formanova.Tests.DevServer;

/// <summary>grpc.health.v1.Health, through the SDK's health check and a plain gRPC client.</summary>
[TestFixture]
[Category("Integration")]
public class HealthTests : DevServerFixture
{
    [Test]
    public async Task CheckHealth_FromTheSdk_ReportsServing() => Assert.That(await Client.Connection.CheckHealthAsync(), Is.True);

    [TestCase("")]
    [TestCase("temporal.api.workflowservice.v1.WorkflowService")]
    [TestCase("temporal.api.operatorservice.v1.OperatorService")]
    public async Task Check_FromARawClient_ReportsServing(string service)
    {
        using var channel = GrpcChannel.ForAddress($"http://{Address}");
        var health = new Health.HealthClient(channel);

        var response = await health.CheckAsync(new HealthCheckRequest { Service = service });

        Assert.That(response.Status, Is.EqualTo(HealthCheckResponse.Types.ServingStatus.Serving));
    }

    [Test]
    public async Task Check_ForAnUnknownService_ThrowsNotFound()
    {
        using var channel = GrpcChannel.ForAddress($"http://{Address}");
        var health = new Health.HealthClient(channel);

        var error = await ThrowsAsync<RpcException>(
            async () => await health.CheckAsync(new HealthCheckRequest { Service = "no.such.Service" }));

        Assert.That(error.StatusCode, Is.EqualTo(StatusCode.NotFound));
    }

    [Test]
    public async Task Watch_FromARawClient_StreamsServing()
    {
        using var channel = GrpcChannel.ForAddress($"http://{Address}");
        var health = new Health.HealthClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        using var call = health.Watch(
            new HealthCheckRequest { Service = "temporal.api.workflowservice.v1.WorkflowService" },
            cancellationToken: cancel.Token);

        Assert.That(await call.ResponseStream.MoveNext(cancel.Token), Is.True);
        Assert.That(call.ResponseStream.Current.Status, Is.EqualTo(HealthCheckResponse.Types.ServingStatus.Serving));
    }
}
