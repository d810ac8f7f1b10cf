using System.Collections.Frozen;
using Grpc.Core;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// The search attributes a namespace knows: Temporal's system and predefined ones, plus the custom ones registered
/// through the operator service, which are stored durably per namespace. The rules follow Temporal's frontend
/// with SQL visibility: reserved names are refused, a name already registered with the same type is a no-op, and each
/// type has as many slots as SQL visibility pre-allocates columns for it.
/// </summary>
internal sealed class SearchAttributeRegistry
{
    /// <summary>Stored outside the attribute map, in the run itself; never set by a start or an upsert.</summary>
    public static readonly FrozenDictionary<string, IndexedValueType> System = new Dictionary<string, IndexedValueType>
    {
        ["WorkflowId"] = IndexedValueType.Keyword,
        ["RunId"] = IndexedValueType.Keyword,
        ["WorkflowType"] = IndexedValueType.Keyword,
        ["StartTime"] = IndexedValueType.Datetime,
        ["ExecutionTime"] = IndexedValueType.Datetime,
        ["CloseTime"] = IndexedValueType.Datetime,
        ["ExecutionStatus"] = IndexedValueType.Keyword,
        ["TaskQueue"] = IndexedValueType.Keyword,
        ["HistoryLength"] = IndexedValueType.Int,
        ["ExecutionDuration"] = IndexedValueType.Int,
        ["StateTransitionCount"] = IndexedValueType.Int,
        ["HistorySizeBytes"] = IndexedValueType.Int,
        ["ParentWorkflowId"] = IndexedValueType.Keyword,
        ["ParentRunId"] = IndexedValueType.Keyword,
        ["RootWorkflowId"] = IndexedValueType.Keyword,
        ["RootRunId"] = IndexedValueType.Keyword,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Kept in the attribute map like custom ones and set by SDKs and the server (TemporalChangeVersion by patching).</summary>
    public static readonly FrozenDictionary<string, IndexedValueType> Predefined = new Dictionary<string, IndexedValueType>
    {
        ["TemporalChangeVersion"] = IndexedValueType.KeywordList,
        ["BinaryChecksums"] = IndexedValueType.KeywordList,
        ["BuildIds"] = IndexedValueType.KeywordList,
        ["BatcherNamespace"] = IndexedValueType.Keyword,
        ["BatcherUser"] = IndexedValueType.Keyword,
        ["TemporalScheduledStartTime"] = IndexedValueType.Datetime,
        ["TemporalScheduledById"] = IndexedValueType.Keyword,
        ["TemporalSchedulePaused"] = IndexedValueType.Bool,
        ["TemporalNamespaceDivision"] = IndexedValueType.Keyword,
        ["TemporalPauseInfo"] = IndexedValueType.KeywordList,
        ["TemporalReportedProblems"] = IndexedValueType.KeywordList,
        ["TemporalWorkerDeploymentVersion"] = IndexedValueType.Keyword,
        ["TemporalWorkflowVersioningBehavior"] = IndexedValueType.Keyword,
        ["TemporalWorkerDeployment"] = IndexedValueType.Keyword,
        ["TemporalUsedWorkerDeploymentVersions"] = IndexedValueType.KeywordList,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The columns Temporal's SQL visibility schema pre-allocates per type: the most custom attributes of that type.</summary>
    public static readonly FrozenDictionary<IndexedValueType, int> SlotsPerType = new Dictionary<IndexedValueType, int>
    {
        [IndexedValueType.Bool] = 3,
        [IndexedValueType.Int] = 3,
        [IndexedValueType.Double] = 3,
        [IndexedValueType.Datetime] = 3,
        [IndexedValueType.Keyword] = 10,
        [IndexedValueType.KeywordList] = 3,
        [IndexedValueType.Text] = 3,
    }.ToFrozenDictionary();

    // Temporal's limits on what a start or an upsert may carry.
    private const int MaxKeys = 100;
    private const int MaxValueBytes = 2 * 1024;
    private const int MaxTotalBytes = 40 * 1024;

    private static readonly FrozenSet<string> ReservedFields = new[] { "NamespaceId", "MemoEncoding", "Memo", "VisibilityTaskKey" }
        .ToFrozenSet(StringComparer.Ordinal);

    private readonly IEventStore _store;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Dictionary<string, IndexedValueType>> _custom = new(StringComparer.Ordinal);

    public SearchAttributeRegistry(IEventStore store)
    {
        _store = store;
        foreach (var (ns, name, type) in store.LoadSearchAttributes())
        {
            Custom(ns)[name] = type;
        }
    }

    public static bool IsReserved(string name) =>
        System.ContainsKey(name) || Predefined.ContainsKey(name) || ReservedFields.Contains(name)
        || name.StartsWith("Temporal", StringComparison.Ordinal);

    /// <summary>The namespace's custom attributes, name to type.</summary>
    public Dictionary<string, IndexedValueType> CustomAttributes(string ns)
    {
        lock (_gate)
        {
            return new Dictionary<string, IndexedValueType>(Custom(ns), StringComparer.Ordinal);
        }
    }

    /// <summary>Every namespace's custom attributes; GetSearchAttributes names no namespace.</summary>
    public Dictionary<string, IndexedValueType> AllCustomAttributes()
    {
        lock (_gate)
        {
            var all = new Dictionary<string, IndexedValueType>(StringComparer.Ordinal);
            foreach (var (_, attributes) in _custom.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                foreach (var (name, type) in attributes)
                {
                    all.TryAdd(name, type);
                }
            }

            return all;
        }
    }

    /// <summary>
    /// The type of a queryable attribute (system, predefined or custom), or null when the namespace has none by that name.
    /// </summary>
    public IndexedValueType? TypeOf(string ns, string name)
    {
        if (System.TryGetValue(name, out var type) || Predefined.TryGetValue(name, out type))
        {
            return type;
        }

        lock (_gate)
        {
            return _custom.TryGetValue(ns, out var custom) && custom.TryGetValue(name, out type) ? type : null;
        }
    }

    public void Add(string ns, IReadOnlyDictionary<string, IndexedValueType> attributes)
    {
        if (attributes.Count == 0)
        {
            throw Errors.InvalidArgument("SearchAttributes are not set on request.");
        }

        foreach (var (name, type) in attributes)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw Errors.InvalidArgument("Search attribute name is not set.");
            }

            if (IsReserved(name))
            {
                throw Errors.InvalidArgument($"Search attribute {name} is reserved by system.");
            }

            if (!SlotsPerType.ContainsKey(type))
            {
                throw Errors.InvalidArgument($"Unknown search attribute type: {type}.");
            }
        }

        lock (_gate)
        {
            var custom = Custom(ns);
            var next = new Dictionary<string, IndexedValueType>(custom, StringComparer.Ordinal);
            foreach (var (name, type) in attributes.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (next.TryGetValue(name, out var existing))
                {
                    // Temporal skips a name already registered. With another type the caller would believe the
                    // attribute has the type it asked for, so that case is refused rather than skipped.
                    if (existing != type)
                    {
                        throw new RpcException(new Status(
                            StatusCode.AlreadyExists,
                            $"Search attribute {name} already exists with type {existing}; it cannot be added as {type}."));
                    }

                    continue;
                }

                var used = next.Values.Count(t => t == type);
                if (used >= SlotsPerType[type])
                {
                    throw Errors.InvalidArgument(
                        $"Unable to create search attributes: cannot have more than {used} search attribute of type {type}.");
                }

                next[name] = type;
            }

            if (next.Count != custom.Count)
            {
                _store.SaveSearchAttributes(ns, next);
                _custom[ns] = next;
            }
        }
    }

    public void Remove(string ns, IEnumerable<string> names)
    {
        var list = names.ToList();
        if (list.Count == 0)
        {
            throw Errors.InvalidArgument("SearchAttributes are not set on request.");
        }

        lock (_gate)
        {
            var custom = Custom(ns);
            var next = new Dictionary<string, IndexedValueType>(custom, StringComparer.Ordinal);
            foreach (var name in list)
            {
                if (!next.Remove(name) && (System.ContainsKey(name) || Predefined.ContainsKey(name)))
                {
                    throw Errors.InvalidArgument($"Unable to remove non-custom search attributes: {name}.");
                }
            }

            // As on Temporal, a name that is not registered is skipped.
            if (next.Count != custom.Count)
            {
                _store.SaveSearchAttributes(ns, next);
                _custom[ns] = next;
            }
        }
    }

    /// <summary>
    /// What Temporal's validator checks on a start or an upsert: every name registered (custom) or predefined, never a
    /// system one, each value decodable as its type, and the size limits. Returns the error message, or null.
    /// </summary>
    public string? Validate(string ns, SearchAttributes? attributes)
    {
        if (attributes is null || attributes.IndexedFields.Count == 0)
        {
            return null;
        }

        if (attributes.IndexedFields.Count > MaxKeys)
        {
            return $"number of search attributes {attributes.IndexedFields.Count} exceeds limit {MaxKeys}";
        }

        foreach (var (name, payload) in attributes.IndexedFields)
        {
            if (System.ContainsKey(name))
            {
                return $"{name} attribute can't be set in SearchAttributes";
            }

            if (TypeOf(ns, name) is not { } type)
            {
                return $"search attribute {name} is not defined";
            }

            if (payload.Data.Length > MaxValueBytes)
            {
                return $"search attribute {name} value of size {payload.Data.Length}: exceeds size limit {MaxValueBytes}";
            }

            if (!SearchAttributeValues.IsRemoval(payload) && SearchAttributeValues.Decode(payload, type) is null)
            {
                return $"invalid value for search attribute {name} of type {type}: {payload.Data.ToStringUtf8()}";
            }
        }

        return attributes.CalculateSize() > MaxTotalBytes
            ? $"total size of search attributes {attributes.CalculateSize()}: exceeds size limit {MaxTotalBytes}"
            : null;
    }

    private Dictionary<string, IndexedValueType> Custom(string ns)
    {
        if (!_custom.TryGetValue(ns, out var custom))
        {
            custom = new Dictionary<string, IndexedValueType>(StringComparer.Ordinal);
            _custom[ns] = custom;
        }

        return custom;
    }
}
