using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Model.Inference;

/// <summary>An ensemble spec checked against the registry: members pinned and loaded, the task, columns and classes.</summary>
internal sealed record PlannedEnsemble(
    EnsembleInfo Info,
    ModelTask Task,
    IReadOnlyList<ModelColumn> Columns,
    IReadOnlyList<string> Classes,
    IReadOnlyList<LoadedModel> Models);

/// <summary>
/// Checks an ensemble before anything is stored (docs/model.md, "Ensembles"): members exist and are not failed, share
/// a task and, for classification, a class set with probabilities; a column two members take has one kind; weights
/// only for <see cref="EnsembleCombiner.Weighted"/>, and positive; no member is, or contains, the ensemble itself; at
/// most <see cref="MaxMembers"/>. Refusals are Invalid naming the field (<c>members[1].version</c>).
/// </summary>
internal sealed class EnsemblePlanner(ModelRegistry registry, ModelRuntime runtime, IOptions<ModelOptions> options)
{
    public const int MaxMembers = EnsembleSpec.MaxMembers;

    public async Task<PlannedEnsemble> PlanAsync(
        string name,
        string version,
        EnsembleSpec? spec,
        ModelTask? task,
        bool training,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var members = spec?.Members ?? [];
        if (members.Count is < 2 or > MaxMembers)
        {
            throw ModuleException.Invalid("members", $"An ensemble has 2 to {MaxMembers} members; {members.Count} were given.");
        }

        var combiner = spec!.Combiner;
        if (!Enum.IsDefined(combiner))
        {
            throw ModuleException.Invalid("combiner", "The combiner is average, weighted or stacking.");
        }

        if (combiner == EnsembleCombiner.Stacking && !training)
        {
            throw ModuleException.Invalid(
                "combiner",
                "A stacked ensemble's meta-learner is fit on data: start a training run with `ensemble` (POST /api/v1/training-runs).");
        }

        var rows = new ModelVersionRow?[members.Count];
        var pinned = new EnsembleMember?[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            (rows[i], pinned[i]) = await ResolveAsync(members[i], i, combiner, errors, cancellationToken);
        }

        ThrowIfAny(errors);
        var columns = new List<ModelColumn>();
        for (var i = 0; i < rows.Length; i++)
        {
            await CheckMemberAsync(name, version, rows, i, columns, task, errors, cancellationToken);
        }

        if (columns.Count > options.Value.Training.MaxColumns)
        {
            errors["members"]
                = [$"The members take {columns.Count} columns together; an ensemble takes at most {options.Value.Training.MaxColumns}."];
        }

        ThrowIfAny(errors);
        var models = new LoadedModel[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            try
            {
                models[i] = await runtime.GetAsync(rows[i]!, cancellationToken);
            }
            catch (ModuleException ex) when (ex.Kind is ErrorKind.Unprocessable or ErrorKind.Unavailable)
            {
                throw new ModuleException(ex.Kind, $"members[{i}]: {ex.Message}", Field(i, "version", ex.Message), ex);
            }
        }

        var classes = Classes(rows[0]!.ModelTask, models, errors);
        ThrowIfAny(errors);
        var info = new EnsembleInfo(combiner, [.. pinned.Select(p => p!)]);
        if (combiner == EnsembleCombiner.Stacking)
        {
            var features = EnsembleBackend.MetaFeatures(rows[0]!.ModelTask, rows.Length, classes);
            if (features.Count > SlotRow.FloatSlots)
            {
                throw ModuleException.Invalid(
                    "members",
                    $"A stacked ensemble's meta-learner takes at most {SlotRow.FloatSlots} member outputs; "
                    + $"these members give {features.Count}.");
            }

            info = info with { MetaFeatures = features };
        }

        return new PlannedEnsemble(info, rows[0]!.ModelTask, columns, classes, models);
    }

    private static IReadOnlyList<string> Classes(ModelTask task, LoadedModel[] models, Dictionary<string, string[]> errors)
    {
        if (task == ModelTask.Regression)
        {
            return [];
        }

        for (var i = 0; i < models.Length; i++)
        {
            if (models[i].Classes is null)
            {
                errors[$"members[{i}].version"] = [
                    $"{models[i].Name} {models[i].Version} gives no class probabilities; an ensemble combines probabilities."
                ];
            }
            else if (models[0].Classes is { } first && !first.SequenceEqual(models[i].Classes!))
            {
                errors[$"members[{i}].version"] = [
                    $"{models[i].Name} {models[i].Version} predicts the classes ({string.Join(", ", models[i].Classes!)}), "
                    + $"members[0] ({string.Join(", ", first)}): members must share one class set."
                ];
            }
        }

        return models[0].Classes ?? [];
    }

    private async Task<(ModelVersionRow? Row, EnsembleMember? Member)> ResolveAsync(
        EnsembleMemberSpec? member,
        int i,
        EnsembleCombiner combiner,
        Dictionary<string, string[]> errors,
        CancellationToken cancellationToken)
    {
        if (member is null || string.IsNullOrWhiteSpace(member.Model))
        {
            errors[$"members[{i}].model"] = ["The member's model is required."];
            return (null, null);
        }

        if (combiner == EnsembleCombiner.Weighted && member.Weight is not (> 0 and < double.PositiveInfinity))
        {
            errors[$"members[{i}].weight"] = ["A weighted ensemble needs a positive, finite weight for every member."];
        }
        else if (combiner != EnsembleCombiner.Weighted && member.Weight is not null)
        {
            errors[$"members[{i}].weight"]
                = [$"Only the weighted combiner takes weights; {Text(combiner)} weighs members equally or learns them."];
        }

        try
        {
            var model = ModelNames.Name(member.Model, $"members[{i}].model");
            if (!string.IsNullOrWhiteSpace(member.Version) && !string.IsNullOrWhiteSpace(member.Alias))
            {
                throw ModuleException.Invalid($"members[{i}].alias", "Name a version or an alias, not both.");
            }

            ModelVersionRow? row;
            string field;
            string? alias = null;
            if (!string.IsNullOrWhiteSpace(member.Version))
            {
                field = "version";
                row = await registry.FindAsync(model, ModelNames.Version(member.Version, $"members[{i}].version"), cancellationToken);
            }
            else if (!string.IsNullOrWhiteSpace(member.Alias))
            {
                field = "alias";
                alias = ModelNames.Alias(member.Alias, $"members[{i}].alias");
                var target = await registry.FindAliasAsync(model, alias, cancellationToken);
                row = target is null ? null : await registry.FindAsync(model, target, cancellationToken);
            }
            else
            {
                field = "model";
                row = await registry.FindActiveAsync(model, cancellationToken);
            }

            if (row is null)
            {
                errors[$"members[{i}].{field}"] = [
                    field switch
                {
                    "version" => $"Model {model} has no version {member.Version}.",
                    "alias" => $"Model {model} has no alias '{member.Alias}'.",
                    _ => $"Model '{model}' has no active version; name a version or an alias.",
                }
                ];
                return (null, null);
            }

            if (row.VersionStatus == ModelVersionStatus.Failed)
            {
                errors[$"members[{i}].{field}"] = [$"{row.Name} {row.Version} is marked failed ({row.FailureReason})."];
            }

            var weight = combiner == EnsembleCombiner.Weighted ? member.Weight ?? 1 : 1;
            return (row, new EnsembleMember(row.Name, row.Version, alias, weight));
        }
        catch (ModuleException ex) when (ex.Kind == ErrorKind.Invalid)
        {
            foreach (var (key, reasons) in ex.Errors)
            {
                errors[key] = reasons;
            }

            return (null, null);
        }
    }

    private async Task CheckMemberAsync(
        string name,
        string version,
        ModelVersionRow?[] rows,
        int i,
        List<ModelColumn> columns,
        ModelTask? task,
        Dictionary<string, string[]> errors,
        CancellationToken cancellationToken)
    {
        var row = rows[i]!;
        var key = $"members[{i}].version";
        var first = Array.FindIndex(rows, r => r!.Name == row.Name && r.Version == row.Version);
        if (first < i)
        {
            errors[key] = [$"{row.Name} {row.Version} is members[{first}] already."];
            return;
        }

        if (await ContainsAsync(row, name, version, 0, cancellationToken))
        {
            errors[key] = [$"{row.Name} {row.Version} is, or contains, {name} {version}: an ensemble cannot contain itself."];
            return;
        }

        if (row.ModelTask != (task ?? rows[0]!.ModelTask))
        {
            errors[task is null ? key : "task"] = [
                $"{row.Name} {row.Version} is {Text(row.ModelTask)}; the ensemble is {Text(task ?? rows[0]!.ModelTask)}."
            ];
            return;
        }

        if (row.InputContract is { } contract && (contract.Steps.Count > 0 || contract.DerivedFeatures.Count > 0))
        {
            errors[key] = [
                $"{row.Name} {row.Version} runs input steps or date features; an ensemble takes its members' feature columns as they are."
            ];
            return;
        }

        foreach (var column in row.Columns.Where(c => !c.IsLabel))
        {
            var known = columns.FindIndex(c => string.Equals(c.Name, column.Name, StringComparison.OrdinalIgnoreCase));
            if (known < 0)
            {
                columns.Add(column);
            }
            else if (columns[known].Kind != column.Kind || columns[known].Name != column.Name)
            {
                errors[key] = [
                    $"{row.Name} {row.Version} takes '{column.Name}' as {Text(column.Kind)}; another member takes "
                    + $"'{columns[known].Name}' as {Text(columns[known].Kind)}. A column the members share must agree."
                ];
            }
        }
    }

    // Pinned members make a cycle possible only through a version deleted and registered again as an ensemble; the
    // walk is bounded by the registry's (finite, acyclic until now) ensembles.
    private async Task<bool> ContainsAsync(ModelVersionRow row, string name, string version, int depth, CancellationToken cancellationToken)
    {
        if (row.Name == name && row.Version == version)
        {
            return true;
        }

        if (row.Ensemble is not { } ensemble || depth > MaxMembers)
        {
            return false;
        }

        foreach (var member in ensemble.Members)
        {
            // By the manifest's names first: the version may have been deleted, and is being registered again now.
            if ((member.Model == name && member.Version == version)
                || (await registry.FindAsync(member.Model, member.Version, cancellationToken) is { } inner
                    && await ContainsAsync(inner, name, version, depth + 1, cancellationToken)))
            {
                return true;
            }
        }

        return false;
    }

    private static Dictionary<string, string[]> Field(int i, string field, string reason) => new() { [$"members[{i}].{field}"] = [reason] };

    private static void ThrowIfAny(Dictionary<string, string[]> errors)
    {
        if (errors.Count > 0)
        {
            throw new ModuleException(
                ErrorKind.Invalid,
                "The ensemble is not valid: " + string.Join(" ", errors.Values.SelectMany(v => v)),
                errors);
        }
    }

    private static string Text<T>(T value)
        where T : struct, Enum => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(value.ToString());
}
