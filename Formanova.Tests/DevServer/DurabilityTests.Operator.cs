using Temporalio.Api.Enums.V1;
using Temporalio.Api.Nexus.V1;
using Temporalio.Api.OperatorService.V1;
using Temporalio.Client;
using Temporalio.Common;

namespace Formanova.Tests.DevServer;

public partial class DurabilityTests
{
    [Test]
    public async Task Restart_AfterSigkill_KeepsRegisteredSearchAttributesTheRunsValuesAndNexusEndpoints()
    {
        var db = Path.Combine(_directory, "temporal.db");
        var key = SearchAttributeKey.CreateKeyword("Region");
        var (first, address) = await StartServerProcessAsync(db);
        string id, endpointId;
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address));
            await client.Connection.OperatorService.AddSearchAttributesAsync(new AddSearchAttributesRequest
            {
                Namespace = "default",
                SearchAttributes = { ["Region"] = IndexedValueType.Keyword, ["Attempts"] = IndexedValueType.Int },
            });
            var handle = await client.StartWorkflowAsync(
                (SignalQueryWorkflow wf) => wf.RunAsync(),
                new($"sa-{Guid.NewGuid():N}", $"tq-{Guid.NewGuid():N}")
                {
                    TypedSearchAttributes = new SearchAttributeCollection.Builder().Set(key, "eu-west").ToSearchAttributeCollection(),
                });
            id = handle.Id;
            endpointId = (await client.Connection.OperatorService.CreateNexusEndpointAsync(new CreateNexusEndpointRequest
            {
                Spec = new EndpointSpec
                {
                    Name = "training",
                    Target = new EndpointTarget { External = new EndpointTarget.Types.External { Url = "http://127.0.0.1:9/nexus" } },
                },
            })).Endpoint.Id;
            await KillAsync(first);
        }
        finally
        {
            Release(first);
        }

        var (second, address2) = await StartServerProcessAsync(db);
        try
        {
            var client = await TemporalClient.ConnectAsync(new TemporalClientConnectOptions(address2));
            var listed = await client.Connection.OperatorService.ListSearchAttributesAsync(
                new ListSearchAttributesRequest { Namespace = "default" });
            var endpoint = await client.Connection.OperatorService.GetNexusEndpointAsync(new GetNexusEndpointRequest { Id = endpointId });
            var found = new List<string>();
            await foreach (var wf in client.ListWorkflowsAsync("Region = 'eu-west' AND Attempts IS NULL"))
            {
                found.Add(wf.Id);
            }

            Assert.Multiple(() =>
            {
                Assert.That(listed.CustomAttributes.Keys, Is.EquivalentTo(new[] { "Region", "Attempts" }));
                Assert.That(found, Is.EqualTo(new[] { id }));
                Assert.That(endpoint.Endpoint.Spec.Name, Is.EqualTo("training"));
            });
            await client.GetWorkflowHandle(id).TerminateAsync("cleanup");
        }
        finally
        {
            await KillAsync(second);
            second.Dispose();
        }
    }
}
