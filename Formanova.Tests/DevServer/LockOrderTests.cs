// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Temporalio.Client;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>
/// The engine holds two run locks together only in one order, a run before its successor (docs/devserver.md,
/// "Concurrency"). These runs take that path hundreds of times at once, each step starting a child that itself
/// continues as new, while other callers lock the newest runs of the same parent and child ids with signals and
/// describes.
/// </summary>
[TestFixture]
[Category("Integration")]
public class LockOrderTests : DevServerFixture
{
    private const int Chains = 24;
    private const int Steps = 10;

    [Test]
    public async Task ContinueAsNewWithChildren_UnderConcurrentSignals_AllChainsCompleteWithoutDeadlock()
    {
        var queue = NewQueue();
        await RunWorkerAsync(queue, o => o.AddWorkflow<ChainWithChildWorkflow>().AddWorkflow<CountdownWorkflow>(), async () =>
        {
            var chains = Enumerable.Range(0, Chains).Select(async _ =>
            {
                var handle = await Client.StartWorkflowAsync((ChainWithChildWorkflow wf) => wf.RunAsync(Steps, 0), new(NewId(), queue));
                var result = handle.GetResultAsync();
                await Task.WhenAll(
                    PokeUntilDoneAsync(Client.GetWorkflowHandle(handle.Id), result),
                    PokeUntilDoneAsync(Client.GetWorkflowHandle(ChainWithChildWorkflow.ChildId(handle.Id)), result));
                return await result;
            }).ToList();

            // Bounded: a lock-order cycle would stall these runs for good, and the test must fail rather than hang.
            int[] results;
            try
            {
                results = await Task.WhenAll(chains).WaitAsync(TimeSpan.FromSeconds(120));
            }
            catch (TimeoutException)
            {
                Assert.Fail("The chains did not finish: a lock-order deadlock is likely.");
                throw;
            }

            // Each step's child continues as new twice and returns 2 + 1.
            Assert.That(results, Has.All.EqualTo(Steps * 3));
        });
    }

    /// <summary>Signals and describes whatever run is newest for the id until the chain's result is in.</summary>
    private static async Task PokeUntilDoneAsync(WorkflowHandle latest, Task result)
    {
        // A signal on every round could keep failing the close command (UnhandledCommand) and starve the chain.
        for (var round = 0; !result.IsCompleted; round++)
        {
            try
            {
                if (round % 10 == 0)
                {
                    await latest.SignalAsync("poke", []);
                }

                await latest.DescribeAsync();
            }
            catch (RpcException)
            {
                // The run closed between lookup and lock, or the child does not exist yet; the next round retries.
            }
        }
    }
}

[Workflow]
public class ChainWithChildWorkflow
{
    /// <summary>One id for every step's child, so a caller can reach the child chain's newest run too.</summary>
    public static string ChildId(string parentId) => parentId + "-child";

    /// <summary>Each step runs a child that continues as new, then continues as new itself.</summary>
    [WorkflowRun]
    public async Task<int> RunAsync(int remaining, int total)
    {
        if (remaining == 0)
        {
            return total;
        }

        var child = await Workflow.ExecuteChildWorkflowAsync(
            (CountdownWorkflow wf) => wf.RunAsync(2, 0),
            new() { Id = ChildId(Workflow.Info.WorkflowId) });
        throw Workflow.CreateContinueAsNewException((ChainWithChildWorkflow wf) => wf.RunAsync(remaining - 1, total + child));
    }
}
