namespace Formanova.Modules.Model;

/// <summary>A version the start-up preload should load.</summary>
public sealed record PreloadCandidate(string Model, string Version);

/// <summary>
/// A source of versions the start-up preload loads after the active and aliased versions and before those with recent
/// traffic, in the order given (for example the arms of running experiments). Register one as a singleton; a source that
/// throws is logged and skipped. <paramref name="Name"/> names it in the logs.
/// </summary>
public sealed record ModelPreloadSource(string Name, Func<CancellationToken, Task<IReadOnlyList<PreloadCandidate>>> ListAsync);
