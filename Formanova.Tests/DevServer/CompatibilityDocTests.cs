using System.Text.RegularExpressions;
using Formanova.Tests.Support;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;

namespace Formanova.Tests.DevServer;

/// <summary>
/// docs/devserver.md names every RPC the server answers UNIMPLEMENTED, and names no served RPC as unimplemented:
/// each method of the workflow and operator services is called with an empty request and its status compared with
/// the doc's table.
/// </summary>
[TestFixture]
[Category("Integration")]
public partial class CompatibilityDocTests : DevServerFixture
{
    private static readonly ServiceDescriptor[] Services =
    [
        Temporalio.Api.WorkflowService.V1.ServiceReflection.Descriptor.Services[0],
        Temporalio.Api.OperatorService.V1.ServiceReflection.Descriptor.Services[0],
    ];

    [Test]
    public async Task UnimplementedTable_ComparedWithTheServer_NamesExactlyTheUnimplementedRpcs()
    {
        using var channel = GrpcChannel.ForAddress($"http://{Address}");
        var invoker = channel.CreateCallInvoker();
        var unimplemented = new List<string>();
        var all = new HashSet<string>(StringComparer.Ordinal);
        foreach (var method in Services.SelectMany(s => s.Methods))
        {
            all.Add(method.Name);
            if (await AnswersUnimplementedAsync(invoker, method))
            {
                unimplemented.Add(method.Name);
            }
        }

        var named = NamedInTable(all);
        Assert.Multiple(() =>
        {
            Assert.That(unimplemented.Except(named), Is.Empty, "unimplemented but not named in docs/devserver.md");
            Assert.That(named.Except(unimplemented), Is.Empty, "named as unimplemented in docs/devserver.md but served");
        });
    }

    /// <summary>An empty request: served methods refuse it (or wait on it), unserved ones answer UNIMPLEMENTED.</summary>
    private static async Task<bool> AnswersUnimplementedAsync(CallInvoker invoker, MethodDescriptor method)
    {
        var bytes = Marshallers.Create<byte[]>(b => b, b => b);
        var call = new Method<byte[], byte[]>(MethodType.Unary, method.Service.FullName, method.Name, bytes, bytes);
        try
        {
            await invoker.AsyncUnaryCall(call, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(2)), []);
            return false;
        }
        catch (RpcException e)
        {
            return e.StatusCode == StatusCode.Unimplemented;
        }
    }

    private static HashSet<string> NamedInTable(HashSet<string> methods)
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryFiles.Root(), "docs", "devserver.md"));
        var start = doc.IndexOf("Everything else answers `UNIMPLEMENTED`", StringComparison.Ordinal);
        var end = doc.IndexOf("## Errors", start, StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThan(0), "the UNIMPLEMENTED table in docs/devserver.md");
        return Word().Matches(doc[start..end]).Select(m => m.Value).Where(methods.Contains).ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"\b[A-Z][A-Za-z]+\b")]
    private static partial Regex Word();
}
