using System.Text.Json;
using Formanova.Host.Workflows.Common;

namespace Formanova.Host.Workflows.Promotion;

/// <summary>Promote <see cref="Version"/> of <see cref="Model"/>; smoke inputs default to a probe row built from its schema.</summary>
public sealed record PromotionInput(string Model, string Version, List<Dictionary<string, JsonElement>>? SmokeInputs, StepPolicy Policy);

public sealed record PromotionTarget(string Model, string Version);

public sealed record SwitchResult(string? PreviousVersion);

public sealed record RestoreInput(string Model, string Version, string? PreviousVersion);

public sealed record SmokeInput(string Model, string Version, List<Dictionary<string, JsonElement>>? Inputs);

/// <summary>get_saga_state: the steps done, the compensations run (in the order they ran) and the outcome.</summary>
public sealed record SagaState(
    string Status,
    string? Stage,
    List<string> Completed,
    List<string> Compensated,
    string? PreviousVersion,
    string? Error,
    List<ErrorRecord> Errors);
