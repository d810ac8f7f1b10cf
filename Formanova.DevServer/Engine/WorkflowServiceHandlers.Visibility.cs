using System.Buffers;
using System.Text.Json;
using Google.Protobuf;
using Temporalio.Api.Common.V1;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

/// <summary>
/// ListWorkflowExecutions, CountWorkflowExecutions (with GROUP BY ExecutionStatus) and GetSearchAttributes, over the
/// runs in memory, filtered by <see cref="VisibilityQuery"/> on system and registered custom search attributes.
/// </summary>
internal sealed partial class WorkflowServiceHandlers
{
    private void AddVisibilityHandlers()
    {
        Add<ListWorkflowExecutionsRequest, ListWorkflowExecutionsResponse>("ListWorkflowExecutions", (r, _) =>
        {
            var query = ParseQuery(r.Namespace, r.Query);
            if (query.GroupBy is not null)
            {
                throw Errors.InvalidArgument("'GROUP BY' clause is only supported for CountWorkflowExecutions.");
            }

            var after = r.NextPageToken.IsEmpty ? null : ListPosition.Parse(r.NextPageToken, query.OrderBy);
            var pageSize = r.PageSize > 0 ? r.PageSize : 1000;
            var matches = Matching(r.Namespace, query);
            matches.Sort((a, b) => ListPosition.Compare(a.Position, b.Position, query.OrderBy));
            var page = matches.Where(m => after is null || ListPosition.Compare(m.Position, after, query.OrderBy) > 0)
                .Take(pageSize + 1).ToList();
            var response = new ListWorkflowExecutionsResponse();
            response.Executions.AddRange(page.Take(pageSize).Select(m => Info(m.Run)));
            if (page.Count > pageSize)
            {
                response.NextPageToken = page[pageSize - 1].Position.ToToken();
            }

            return response;
        });
        Add<CountWorkflowExecutionsRequest, CountWorkflowExecutionsResponse>("CountWorkflowExecutions", (r, _) =>
        {
            var query = ParseQuery(r.Namespace, r.Query);
            var matches = Matching(r.Namespace, query);
            var response = new CountWorkflowExecutionsResponse { Count = matches.Count };
            if (query.GroupBy is not null)
            {
                // Like Temporal, each group's value is the status name as a Keyword payload; largest group first.
                var groups = matches.GroupBy(m => m.Status).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal);
                foreach (var group in groups)
                {
                    var value = new Payload { Data = ByteString.CopyFromUtf8(JsonSerializer.Serialize(group.Key)) };
                    value.Metadata["encoding"] = ByteString.CopyFromUtf8("json/plain");
                    value.Metadata["type"] = ByteString.CopyFromUtf8("Keyword");
                    response.Groups.Add(new CountWorkflowExecutionsResponse.Types.AggregationGroup
                    {
                        GroupValues = { value },
                        Count = group.Count(),
                    });
                }
            }

            return response;
        });
        Add<GetSearchAttributesRequest, GetSearchAttributesResponse>("GetSearchAttributes", (_, _) =>
        {
            // The request names no namespace: every namespace's custom attributes are listed with the system ones.
            var response = new GetSearchAttributesResponse();
            response.Keys.Add(SearchAttributeRegistry.System);
            response.Keys.Add(SearchAttributeRegistry.Predefined);
            foreach (var (name, type) in _engine.SearchAttributes.AllCustomAttributes())
            {
                response.Keys[name] = type;
            }

            return response;
        });
    }

    private VisibilityQuery ParseQuery(string ns, string query)
    {
        _engine.RequireNamespace(ns);
        return VisibilityQuery.Parse(query, name => _engine.SearchAttributes.TypeOf(ns, name));
    }

    private sealed record Match(WorkflowRun Run, ListPosition Position, string Status);

    /// <summary>The matching runs, each read once under its lock: the ORDER BY values and the status with it.</summary>
    private List<Match> Matching(string ns, VisibilityQuery query)
    {
        var matches = new List<Match>();
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var run in _engine.Runs)
        {
            if (run.Namespace != ns)
            {
                continue;
            }

            lock (run.Gate)
            {
                if (run.HistoryCount == 0)
                {
                    continue;
                }

                values.Clear();
                foreach (var field in query.Fields)
                {
                    values[field.Name] = ReadAttribute(run, field);
                }

                if (query.Matches(name => values[name]))
                {
                    var keys = query.OrderBy.Select(o => values[o.Field.Name]).ToArray();
                    matches.Add(new Match(run, new ListPosition(keys, run.StartTime.Ticks, run.RunId), run.Status.ToString()));
                }
            }
        }

        return matches;
    }

    /// <summary>A search attribute's value on a run (under its lock): system ones from the run, the rest from its map.</summary>
    internal static object? ReadAttribute(WorkflowRun run, QueryField field) => field.Name switch
    {
        "WorkflowId" => run.WorkflowId,
        "RunId" => run.RunId,
        "WorkflowType" => run.Start.WorkflowType.Name,
        "TaskQueue" => run.Start.TaskQueue.Name,
        "ExecutionStatus" => run.Status.ToString(),
        "StartTime" => run.StartTime,
        "ExecutionTime" => run.StartTime + (run.Start.FirstWorkflowTaskBackoff?.ToTimeSpan() ?? TimeSpan.Zero),
        "CloseTime" => run.CloseTime,
        "ExecutionDuration" => run.CloseTime is { } closed ? (closed - run.StartTime).Ticks * 100 : null,
        "HistoryLength" or "StateTransitionCount" => (long)run.HistoryCount,
        "HistorySizeBytes" => run.HistorySizeBytes,
        "ParentWorkflowId" => run.Start.ParentWorkflowExecution?.WorkflowId,
        "ParentRunId" => run.Start.ParentWorkflowExecution?.RunId,
        "RootWorkflowId" => run.Start.RootWorkflowExecution?.WorkflowId ?? run.WorkflowId,
        "RootRunId" => run.Start.RootWorkflowExecution?.RunId ?? run.RunId,
        _ => run.SearchAttributes.IndexedFields.TryGetValue(field.Name, out var payload) && !SearchAttributeValues.IsRemoval(payload)
            ? SearchAttributeValues.Decode(payload, field.Type)
            : null,
    };

    /// <summary>
    /// Where a run sits in a listing: its ORDER BY values, then start time (descending) and run id, the default order
    /// of Temporal's SQL visibility. A page token is the last listed run's position and the next page continues after
    /// it rather than at an offset, so runs started or changed between pages neither shift nor repeat later pages.
    /// </summary>
    private sealed record ListPosition(object?[] Keys, long StartTicks, string RunId)
    {
        public static int Compare(ListPosition a, ListPosition b, IReadOnlyList<QueryOrder> order)
        {
            for (var i = 0; i < order.Count; i++)
            {
                var (x, y) = (a.Keys[i], b.Keys[i]);
                // No value sorts last in both directions.
                var c = VisibilityQuery.CompareValues(x, y);
                if (x is not null && y is not null && order[i].Descending)
                {
                    c = -c;
                }

                if (c != 0)
                {
                    return c;
                }
            }

            var byStart = b.StartTicks.CompareTo(a.StartTicks);
            return byStart != 0 ? byStart : string.CompareOrdinal(a.RunId, b.RunId);
        }

        public ByteString ToToken()
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteStartArray("k");
                foreach (var key in Keys)
                {
                    WriteKey(json, key);
                }

                json.WriteEndArray();
                json.WriteNumber("t", StartTicks);
                json.WriteString("r", RunId);
                json.WriteEndObject();
            }

            return ByteString.CopyFrom(buffer.WrittenSpan);
        }

        public static ListPosition Parse(ByteString token, IReadOnlyList<QueryOrder> order)
        {
            try
            {
                using var json = JsonDocument.Parse(token.Memory);
                var root = json.RootElement;
                var keys = root.GetProperty("k").EnumerateArray().Select(ReadKey).ToArray();
                var ticks = root.GetProperty("t").GetInt64();
                if (keys.Length != order.Count || ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks
                    || keys.Zip(order).Any(p => p.First is not null && !FitsType(p.First, p.Second.Field.Type)))
                {
                    throw Errors.InvalidArgument("Invalid NextPageToken.");
                }

                return new ListPosition(keys, ticks, root.GetProperty("r").GetString() ?? "");
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException
                or ArgumentException)
            {
                throw Errors.InvalidArgument("Invalid NextPageToken.");
            }
        }

        private static bool FitsType(object key, IndexedValueType type) => (type, key) switch
        {
            (IndexedValueType.Keyword, string) => true,
            (IndexedValueType.Int, long) => true,
            (IndexedValueType.Double, double) => true,
            (IndexedValueType.Bool, bool) => true,
            (IndexedValueType.Datetime, DateTime) => true,
            _ => false,
        };

        private static void WriteKey(Utf8JsonWriter json, object? key)
        {
            json.WriteStartArray();
            switch (key)
            {
                case string s:
                    json.WriteStringValue("s");
                    json.WriteStringValue(s);
                    break;
                case long l:
                    json.WriteStringValue("l");
                    json.WriteNumberValue(l);
                    break;
                case double d:
                    json.WriteStringValue("d");
                    json.WriteNumberValue(d);
                    break;
                case bool b:
                    json.WriteStringValue("b");
                    json.WriteBooleanValue(b);
                    break;
                case DateTime t:
                    json.WriteStringValue("t");
                    json.WriteNumberValue(t.Ticks);
                    break;
                default:
                    json.WriteStringValue("n");
                    break;
            }

            json.WriteEndArray();
        }

        private static object? ReadKey(JsonElement e) => e[0].GetString() switch
        {
            "s" => e[1].GetString(),
            "l" => e[1].GetInt64(),
            "d" => e[1].GetDouble(),
            "b" => e[1].GetBoolean(),
            "t" => new DateTime(e[1].GetInt64(), DateTimeKind.Utc),
            "n" => null,
            _ => throw new FormatException("unknown key tag"),
        };
    }
}
