using Formanova.Host.Dashboard.Workflows;
using Formanova.Modules.Model;

namespace Formanova.Host.Dashboard.Models;

/// <summary>
/// A model version's page: the version as the registry has it (its training report included), the actions this viewer may
/// take on it, and the "try it" form (null when the key lacks the scope predictions need) with its last answer.
/// </summary>
public sealed record VersionModel(
    ModelVersionInfo Version,
    IReadOnlyList<ActionModel> Actions,
    IReadOnlyList<TryField>? TryFields,
    IReadOnlyDictionary<string, string> TryValues,
    PredictionResult? TryResult,
    string? TryError);

/// <summary>One input of the "try it" form: a raw column the version reads, with the kind of control that fits it.</summary>
public sealed record TryField(string Name, string Type, string Kind);
