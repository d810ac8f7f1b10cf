// The SDK requires [WorkflowRun] methods to be instance members even when they keep no state.
#pragma warning disable CA1822
using Temporalio.Common;
using Temporalio.Workflows;

namespace Formanova.Tests.DevServer;

/// <summary>The custom search attributes the visibility and operator tests register, one per type.</summary>
public static class CustomAttributes
{
    public static readonly SearchAttributeKey<string> Keyword = SearchAttributeKey.CreateKeyword("CustomKeyword");
    public static readonly SearchAttributeKey<string> Text = SearchAttributeKey.CreateText("CustomText");
    public static readonly SearchAttributeKey<long> Number = SearchAttributeKey.CreateLong("CustomInt");
    public static readonly SearchAttributeKey<double> Score = SearchAttributeKey.CreateDouble("CustomDouble");
    public static readonly SearchAttributeKey<bool> Flag = SearchAttributeKey.CreateBool("CustomBool");
    public static readonly SearchAttributeKey<DateTimeOffset> When = SearchAttributeKey.CreateDateTimeOffset("CustomDatetime");
    public static readonly SearchAttributeKey<IReadOnlyCollection<string>> Tags =
        SearchAttributeKey.CreateKeywordList("CustomKeywordList");

    public static Dictionary<string, Temporalio.Api.Enums.V1.IndexedValueType> All => new()
    {
        [Keyword.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Keyword,
        [Text.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Text,
        [Number.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Int,
        [Score.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Double,
        [Flag.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Bool,
        [When.Name] = Temporalio.Api.Enums.V1.IndexedValueType.Datetime,
        [Tags.Name] = Temporalio.Api.Enums.V1.IndexedValueType.KeywordList,
    };
}

/// <summary>What <see cref="UpsertSearchAttributesWorkflow"/> changes before it completes.</summary>
public sealed record UpsertPlan(
    long? Number = null,
    IReadOnlyCollection<string>? Tags = null,
    bool UnsetKeyword = false,
    string? Unregistered = null);

/// <summary>Upserts search attributes from inside the workflow, as the plan says, then completes.</summary>
[Workflow]
public class UpsertSearchAttributesWorkflow
{
    [WorkflowRun]
    public Task RunAsync(UpsertPlan plan)
    {
        var updates = new List<SearchAttributeUpdate>();
        if (plan.Number is { } value)
        {
            updates.Add(CustomAttributes.Number.ValueSet(value));
        }

        if (plan.Tags is { } tags)
        {
            updates.Add(CustomAttributes.Tags.ValueSet(tags));
        }

        if (plan.UnsetKeyword)
        {
            updates.Add(CustomAttributes.Keyword.ValueUnset());
        }

        if (plan.Unregistered is { } name)
        {
            updates.Add(SearchAttributeKey.CreateKeyword(name).ValueSet("x"));
        }

        if (updates.Count > 0)
        {
            Workflow.UpsertTypedSearchAttributes([.. updates]);
        }

        return Task.CompletedTask;
    }
}
