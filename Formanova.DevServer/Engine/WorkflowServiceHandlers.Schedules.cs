using System.Text;
using Formanova.DevServer.Schedules;
using Google.Protobuf;
using Temporalio.Api.Schedule.V1;
using Temporalio.Api.WorkflowService.V1;

namespace Formanova.DevServer.Engine;

internal sealed partial class WorkflowServiceHandlers
{
    private const int ListFutureActionCount = 5;

    /// <summary>The schedule RPCs (Formanova.DevServer/Schedules); docs/devserver.md, "Schedules".</summary>
    private void AddScheduleHandlers()
    {
        var schedules = _engine.Schedules;
        Add<CreateScheduleRequest, CreateScheduleResponse>("CreateSchedule", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            var entry = schedules.Create(r.Namespace, r.ScheduleId, r.Schedule, r.InitialPatch, r.Memo, r.SearchAttributes, r.RequestId);
            lock (entry.Gate)
            {
                return new CreateScheduleResponse { ConflictToken = entry.Token };
            }
        });
        Add<DescribeScheduleRequest, DescribeScheduleResponse>("DescribeSchedule", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            var entry = schedules.Get(r.Namespace, r.ScheduleId);
            lock (entry.Gate)
            {
                var info = entry.Info.Clone();
                info.FutureActionTimes.Clear();
                info.FutureActionTimes
                    .AddRange(ScheduleManager.FutureTimes(entry, ScheduleManager.FutureActionCount).Select(CompiledSpec.Stamp));
                return new DescribeScheduleResponse
                {
                    Schedule = entry.Schedule.Clone(),
                    Info = info,
                    Memo = entry.Memo,
                    SearchAttributes = entry.SearchAttributes,
                    ConflictToken = entry.Token,
                };
            }
        });
        Add<UpdateScheduleRequest, UpdateScheduleResponse>("UpdateSchedule", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            schedules.Update(r.Namespace, r.ScheduleId, r.Schedule, r.ConflictToken, r.SearchAttributes);
            return new UpdateScheduleResponse();
        });
        Add<PatchScheduleRequest, PatchScheduleResponse>("PatchSchedule", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            schedules.Patch(r.Namespace, r.ScheduleId, r.Patch ?? new SchedulePatch());
            return new PatchScheduleResponse();
        });
        Add<DeleteScheduleRequest, DeleteScheduleResponse>("DeleteSchedule", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            schedules.Delete(r.Namespace, r.ScheduleId);
            return new DeleteScheduleResponse();
        });
        Add<ListSchedulesRequest, ListSchedulesResponse>("ListSchedules", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            var after = r.NextPageToken.IsEmpty ? null : r.NextPageToken.ToStringUtf8();
            var pageSize = r.MaximumPageSize > 0 ? r.MaximumPageSize : 1000;
            var page = ScheduleQuery.Filter(schedules.In(r.Namespace), r.Query)
                .Where(e => after is null || string.CompareOrdinal(e.Id, after) > 0)
                .Take(pageSize + 1)
                .ToList();
            var response = new ListSchedulesResponse();
            response.Schedules.AddRange(page.Take(pageSize).Select(e => ListEntry(e)));
            if (page.Count > pageSize)
            {
                response.NextPageToken = ByteString.CopyFrom(Encoding.UTF8.GetBytes(page[pageSize - 1].Id));
            }

            return response;
        });
        Add<CountSchedulesRequest, CountSchedulesResponse>("CountSchedules", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            return new CountSchedulesResponse { Count = ScheduleQuery.Filter(schedules.In(r.Namespace), r.Query).LongCount() };
        });
        Add<ListScheduleMatchingTimesRequest, ListScheduleMatchingTimesResponse>("ListScheduleMatchingTimes", (r, _) =>
        {
            _engine.RequireNamespace(r.Namespace);
            var entry = schedules.Get(r.Namespace, r.ScheduleId);
            if (r.StartTime is null || r.EndTime is null)
            {
                throw Errors.InvalidArgument("StartTime and EndTime are required.");
            }

            var response = new ListScheduleMatchingTimesResponse();
            lock (entry.Gate)
            {
                response.StartTime.AddRange(entry.Spec.Between(r.StartTime.ToDateTime().AddTicks(-1), r.EndTime.ToDateTime())
                    .Take(1000)
                    .Select(t => CompiledSpec.Stamp(t.Actual)));
            }

            return response;
        });
    }

    private static ScheduleListEntry ListEntry(ScheduleEntry entry)
    {
        lock (entry.Gate)
        {
            var info = new ScheduleListInfo
            {
                Spec = entry.Schedule.Spec.Clone(),
                WorkflowType = entry.Schedule.Action.StartWorkflow.WorkflowType,
                Notes = entry.Schedule.State.Notes,
                Paused = entry.Schedule.State.Paused,
            };
            info.RecentActions.AddRange(entry.Info.RecentActions.TakeLast(ListFutureActionCount));
            info.FutureActionTimes.AddRange(ScheduleManager.FutureTimes(entry, ListFutureActionCount).Select(CompiledSpec.Stamp));
            return new ScheduleListEntry
            {
                ScheduleId = entry.Id,
                Memo = entry.Memo,
                SearchAttributes = entry.SearchAttributes,
                Info = info,
            };
        }
    }
}
