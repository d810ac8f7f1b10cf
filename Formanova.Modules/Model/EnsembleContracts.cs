using System.Text.Json.Serialization;

namespace Formanova.Modules.Model;

/// <summary>
/// How an ensemble combines its members: <see cref="Average"/> averages values (regression) or class probabilities
/// (soft voting), <see cref="Weighted"/> does the same with each member's weight, and <see cref="Stacking"/> feeds the
/// members' outputs to a meta-learner a training run fits (docs/model.md, "Ensembles").
/// </summary>
public enum EnsembleCombiner
{
    Average,
    Weighted,
    Stacking,
}

/// <summary>
/// A member as the caller names it: a version of <see cref="Model"/>, or its <see cref="Alias"/> (resolved once, when
/// the ensemble is registered), or neither for the model's active version then. <see cref="Weight"/> is for
/// <see cref="EnsembleCombiner.Weighted"/> only.
/// </summary>
public sealed record EnsembleMemberSpec(string Model, string? Version = null, string? Alias = null, double? Weight = null);

/// <summary>The members of an ensemble and how they are combined.</summary>
public sealed record EnsembleSpec(IReadOnlyList<EnsembleMemberSpec> Members, EnsembleCombiner Combiner = EnsembleCombiner.Average)
{
    /// <summary>Members of one ensemble at most: each scores every request, so the cost grows with their number.</summary>
    public const int MaxMembers = 8;
}

/// <summary>Registers an averaging or weighted ensemble (a stacked one is trained by a training run) as a version.</summary>
public sealed record RegisterEnsembleRequest(
    string Name,
    string Version,
    EnsembleSpec Ensemble,
    IReadOnlyDictionary<string, string>? Tags = null,
    string? Notes = null);

/// <summary>
/// A member as registered: the version it is pinned to, the alias it was named by (if any) and its weight (1 unless
/// the combiner is <see cref="EnsembleCombiner.Weighted"/>).
/// </summary>
public sealed record EnsembleMember(string Model, string Version, string? Alias, double Weight);

/// <summary>
/// What an ensemble version is made of. <see cref="MetaLearner"/> names the trainer of a stacked ensemble's
/// meta-learner, fit on <see cref="MetaFeatures"/> (one per member output: a value, the probability of <c>true</c>, or
/// one probability per class).
/// </summary>
public sealed record EnsembleInfo(
    EnsembleCombiner Combiner,
    IReadOnlyList<EnsembleMember> Members,
    string? MetaLearner = null,
    IReadOnlyList<string>? MetaFeatures = null);

/// <summary>
/// One member's answer inside an ensemble's prediction (<c>includeMembers</c>). <see cref="FallbackFrom"/> names the
/// member's version that failed when its model's previous stable version answered for it instead.
/// </summary>
public sealed record MemberPrediction(
    string Model,
    string Version,
    double Weight,
    string? Label,
    double? Value,
    double? Score,
    IReadOnlyDictionary<string, double>? Probabilities,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FallbackFrom = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FallbackReason = null);

/// <summary>A member's figures on the held-out rows of a training run with an ensemble.</summary>
public sealed record MemberComparison(string Model, string Version, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// The ensemble and each member on the same <see cref="Rows"/> held-out rows, computed alike (docs/model.md,
/// "Ensembles"): accuracy, logLoss and, for binary, auc; rmse, mae and r2 for regression.
/// </summary>
public sealed record EnsembleComparison(int Rows, IReadOnlyDictionary<string, double> Ensemble, IReadOnlyList<MemberComparison> Members);
