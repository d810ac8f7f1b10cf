using Formanova.Modules.Model.Inference;
using Formanova.Modules.Model.Registry;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Experiments;

/// <summary>
/// Checks a <see cref="CreateExperimentRequest"/> before anything is stored (docs/experiments.md, "Creating one") and
/// pins its arms: every refusal is Invalid naming the JSON field (<c>arms[1].weight</c>, <c>canary.steps[2]</c>). The
/// arms are loaded while their class sets are compared, so a created experiment's first routed request pays no load.
/// </summary>
internal sealed class ExperimentPlanner(ModelRegistry registry, ModelRuntime runtime)
{
    public const int MinArms = 2;
    public const int MaxArms = 8;
    public const long MinSamples = 10;
    public static readonly TimeSpan DefaultEvaluationInterval = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);

    public async Task<(ExperimentSettings Settings, IReadOnlyList<ExperimentArm> Arms)> PlanAsync(
        string model,
        CreateExperimentRequest request,
        CancellationToken cancellationToken)
    {
        var settings = Settings(request);
        var specs = request.Arms ?? [];
        if (specs.Count is < MinArms or > MaxArms)
        {
            throw ModuleException.Invalid("arms", $"An experiment has {MinArms} to {MaxArms} arms; {specs.Count} were given.");
        }

        if (settings.Mode == ExperimentMode.Canary && specs.Count != 2)
        {
            throw ModuleException.Invalid("arms", "A canary has exactly 2 arms: the control and the candidate it steps up.");
        }

        if ((await registry.ListAsync(model, cancellationToken)).Count == 0)
        {
            throw ModuleException.Invalid("model", $"Model '{model}' was not found.");
        }

        var errors = new Dictionary<string, string[]>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var rows = new ModelVersionRow?[specs.Count];
        for (var i = 0; i < specs.Count; i++)
        {
            rows[i] = await ArmAsync(model, specs[i], i, names, errors, cancellationToken);
        }

        ThrowIfAny(errors);
        if (specs.Sum(s => s!.Weight) <= 0)
        {
            throw ModuleException.Invalid("arms", "The arms' weights must add up to more than 0.");
        }

        for (var i = 1; i < rows.Length; i++)
        {
            if (rows[..i].Any(r => r!.Version == rows[i]!.Version))
            {
                errors[$"arms[{i}].version"] =
                    [$"Another arm is pinned to {model} {rows[i]!.Version} already; arms compare distinct versions."];
            }
            else if (rows[i]!.ModelTask != rows[0]!.ModelTask)
            {
                errors[$"arms[{i}].version"] =
                    [$"{model} {rows[i]!.Version} is a {rows[i]!.ModelTask} model; arms[0] is a {rows[0]!.ModelTask} one."];
            }
        }

        ThrowIfAny(errors);
        CheckMetric(settings.PrimaryMetric, rows[0]!.ModelTask);
        await CheckClassesAsync(rows!, errors, cancellationToken);
        var arms = new ExperimentArm[specs.Count];
        for (var i = 0; i < specs.Count; i++)
        {
            var alias = string.IsNullOrWhiteSpace(specs[i]!.Alias) ? null : ModelNames.Alias(specs[i]!.Alias);
            arms[i] = new ExperimentArm(ModelNames.Alias(specs[i]!.Name), rows[i]!.Version, alias, specs[i]!.Weight, i == 0);
        }

        if (settings.Canary is { } canary)
        {
            // A canary's weights follow its plan from the first step; the weights given are not used.
            arms[0] = arms[0] with { Weight = 1 - canary.Steps[0] };
            arms[1] = arms[1] with { Weight = canary.Steps[0] };
        }

        return (settings, arms);
    }

    /// <summary>Checks new weights by arm name against the arms; Invalid naming <c>weights.{arm}</c>.</summary>
    public static IReadOnlyList<ExperimentArm> Reweigh(IReadOnlyList<ExperimentArm> arms, IReadOnlyDictionary<string, double> weights)
    {
        if (weights is null || weights.Count == 0)
        {
            throw ModuleException.Invalid("weights", "Give at least one arm's weight.");
        }

        var errors = new Dictionary<string, string[]>();
        foreach (var (arm, weight) in weights)
        {
            if (!arms.Any(a => a.Name == arm))
            {
                errors[$"weights.{arm}"] =
                    [$"The experiment has no arm '{arm}'; its arms are {string.Join(", ", arms.Select(a => a.Name))}."];
            }
            else if (!double.IsFinite(weight) || weight < 0)
            {
                errors[$"weights.{arm}"] = ["A weight is a finite number of 0 or more."];
            }
        }

        ThrowIfAny(errors);
        var updated = arms.Select(a => weights.TryGetValue(a.Name, out var w) ? a with { Weight = w } : a).ToList();
        return updated.Sum(a => a.Weight) > 0
            ? updated
            : throw ModuleException.Invalid("weights", "The arms' weights must add up to more than 0.");
    }

    public static ExperimentSettings Settings(CreateExperimentRequest request)
    {
        if (!Enum.IsDefined(request.Mode))
        {
            throw ModuleException.Invalid("mode", "The mode is split, shadow or canary.");
        }

        if (!Enum.IsDefined(request.Assignment))
        {
            throw ModuleException.Invalid("assignment", "The assignment is sticky or random.");
        }

        if (!Enum.IsDefined(request.PrimaryMetric))
        {
            throw ModuleException.Invalid("primaryMetric", "The primary metric is accuracy, auc, logLoss, rmse or mae.");
        }

        if (!(request.Alpha is > 0 and <= 0.5))
        {
            throw ModuleException.Invalid("alpha", "alpha is a significance level in (0, 0.5].");
        }

        if (request.MinSamplesPerArm < MinSamples)
        {
            throw ModuleException.Invalid("minSamplesPerArm", $"minSamplesPerArm is at least {MinSamples}.");
        }

        var interval = request.EvaluationInterval ?? DefaultEvaluationInterval;
        if (interval < MinInterval)
        {
            throw ModuleException.Invalid("evaluationInterval", "evaluationInterval is at least 1 second.");
        }

        if (request.MaxDuration is { } max && max < interval)
        {
            throw ModuleException.Invalid("maxDuration", "maxDuration is at least one evaluationInterval.");
        }

        var guards = request.Guards ?? new ExperimentGuards();
        CheckGuards(guards);
        CheckCanary(request.Mode, request.Canary);
        return new ExperimentSettings(
            request.Mode,
            request.Assignment,
            request.PrimaryMetric,
            guards,
            request.MinSamplesPerArm,
            request.Alpha,
            interval,
            request.MaxDuration,
            request.Canary is { } c ? c with { Steps = [.. c.Steps] } : null,
            request.AutoPromote);
    }

    private static void CheckGuards(ExperimentGuards guards)
    {
        if (guards.MaxErrorRate is { } errorRate && !(errorRate is >= 0 and <= 1))
        {
            throw ModuleException.Invalid("guards.maxErrorRate", "maxErrorRate is a fraction in [0, 1].");
        }

        if (guards.MaxFallbackRate is { } fallbackRate && !(fallbackRate is >= 0 and <= 1))
        {
            throw ModuleException.Invalid("guards.maxFallbackRate", "maxFallbackRate is a fraction in [0, 1].");
        }

        if (guards.MaxP95LatencyMs is { } latency && !(double.IsFinite(latency) && latency > 0))
        {
            throw ModuleException.Invalid("guards.maxP95LatencyMs", "maxP95LatencyMs is a positive number of milliseconds.");
        }
    }

    private static void CheckCanary(ExperimentMode mode, CanaryPlan? canary)
    {
        if (mode != ExperimentMode.Canary)
        {
            if (canary is not null)
            {
                throw ModuleException.Invalid("canary", "A canary plan is for mode canary only.");
            }

            return;
        }

        if (canary?.Steps is not { Count: > 0 } steps)
        {
            throw ModuleException.Invalid(
                "canary",
                "Mode canary needs a plan: canary.steps (increasing fractions) and canary.stepInterval.");
        }

        for (var i = 0; i < steps.Count; i++)
        {
            if (!(steps[i] is > 0 and <= 1) || (i > 0 && steps[i] <= steps[i - 1]))
            {
                throw ModuleException.Invalid($"canary.steps[{i}]", "Each step is a fraction in (0, 1], larger than the one before.");
            }
        }

        if (canary.StepInterval < MinInterval)
        {
            throw ModuleException.Invalid("canary.stepInterval", "stepInterval is at least 1 second.");
        }
    }

    private static void CheckMetric(ExperimentMetric metric, ModelTask task)
    {
        var fits = task switch
        {
            ModelTask.Regression => metric is ExperimentMetric.Rmse or ExperimentMetric.Mae,
            ModelTask.BinaryClassification => metric is ExperimentMetric.Accuracy or ExperimentMetric.Auc or ExperimentMetric.LogLoss,
            _ => metric is ExperimentMetric.Accuracy or ExperimentMetric.LogLoss,
        };
        if (!fits)
        {
            throw ModuleException.Invalid("primaryMetric", $"{metric} does not score a {task} model.");
        }
    }

    private async Task<ModelVersionRow?> ArmAsync(
        string model,
        ExperimentArmSpec? spec,
        int i,
        HashSet<string> names,
        Dictionary<string, string[]> errors,
        CancellationToken cancellationToken)
    {
        if (spec is null)
        {
            errors[$"arms[{i}]"] = ["An arm is required."];
            return null;
        }

        try
        {
            if (!names.Add(ModelNames.Alias(spec.Name, $"arms[{i}].name")))
            {
                errors[$"arms[{i}].name"] = [$"Another arm is named '{spec.Name}'; arm names are unique."];
            }

            if (!double.IsFinite(spec.Weight) || spec.Weight < 0)
            {
                errors[$"arms[{i}].weight"] = ["A weight is a finite number of 0 or more."];
            }

            var hasVersion = !string.IsNullOrWhiteSpace(spec.Version);
            var hasAlias = !string.IsNullOrWhiteSpace(spec.Alias);
            if (hasVersion && hasAlias)
            {
                errors[$"arms[{i}].alias"] = ["Give a version or an alias, not both."];
                return null;
            }

            var field = hasAlias ? $"arms[{i}].alias" : $"arms[{i}].version";
            var version = hasVersion
                ? ModelNames.Version(spec.Version, field)
                : hasAlias
                    ? await registry.FindAliasAsync(model, ModelNames.Alias(spec.Alias, field), cancellationToken)
                    : (await registry.FindActiveAsync(model, cancellationToken))?.Version;
            var row = version is null ? null : await registry.FindAsync(model, version, cancellationToken);
            if (row is null)
            {
                var missing = hasVersion || hasAlias
                    ? $"{model} has no version '{(hasVersion ? spec.Version : spec.Alias)}'."
                    : $"{model} has no active version; name the arm's version.";
                errors[field] = [missing];
            }
            else if (row.VersionStatus is ModelVersionStatus.Failed or ModelVersionStatus.Archived)
            {
                errors[field] = [$"{model} {row.Version} is {row.Status}; an arm serves traffic."];
            }

            return row;
        }
        catch (ModuleException ex) when (ex.Errors is { Count: > 0 })
        {
            foreach (var (key, value) in ex.Errors)
            {
                errors[key] = value;
            }

            return null;
        }
    }

    // Loading the arms here is also the warm-up the contract promises.
    private async Task CheckClassesAsync(ModelVersionRow[] rows, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        var models = new LoadedModel[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            try
            {
                models[i] = await runtime.GetAsync(rows[i], cancellationToken);
            }
            catch (ModuleException ex) when (ex.Kind is ErrorKind.Unprocessable or ErrorKind.Unavailable)
            {
                var field = new Dictionary<string, string[]> { [$"arms[{i}].version"] = [ex.Message] };
                throw new ModuleException(ex.Kind, $"arms[{i}]: {ex.Message}", field, ex);
            }
        }

        for (var i = 1; i < models.Length; i++)
        {
            if (models[0].Classes is { } first && models[i].Classes is { } classes && !first.SequenceEqual(classes))
            {
                errors[$"arms[{i}].version"] = [
                    $"{rows[i].Name} {rows[i].Version} predicts the classes ({string.Join(", ", classes)}), "
                    + $"arms[0] ({string.Join(", ", first)}): arms must share one class set."
                ];
            }
        }

        ThrowIfAny(errors);
    }

    private static void ThrowIfAny(Dictionary<string, string[]> errors)
    {
        if (errors.Count > 0)
        {
            throw new ModuleException(ErrorKind.Invalid, "The experiment is not valid.", errors);
        }
    }
}
