using System.Reflection;
using System.Runtime.CompilerServices;
using Formanova.Modules.Shared;

namespace Formanova.Tests.Architecture;

public sealed class ModuleTests
{
    private static readonly Assembly Modules = typeof(SharedInfrastructure).Assembly;

    /// <summary>Every module, found from its <c>I&lt;Name&gt;Module</c> interface, so a new one is guarded without listing it.</summary>
    private static readonly string[] ModuleNames = Modules.GetExportedTypes()
        .Where(t => t.IsInterface && t.Name.StartsWith('I') && t.Name.EndsWith("Module", StringComparison.Ordinal)
            && t.Namespace == $"Formanova.Modules.{t.Name[1..^"Module".Length]}")
        .Select(t => t.Name[1..^"Module".Length])
        .Order(StringComparer.Ordinal)
        .ToArray();

    [Test]
    public void ModuleNames_WhenDerivedFromTheModuleInterfaces_IncludeEveryModuleFolder() =>
        Assert.That(ModuleNames, Is.EqualTo(new[] { "Access", "Data", "Event", "Model" }));

    [Test]
    public void FindViolations_WhenScanningFormanovaModules_FindsNone()
    {
        var violations = ModuleBoundaries.FindViolations(Modules, "Formanova.Modules", ModuleNames);

        Assert.That(violations, Is.Empty, string.Join(Environment.NewLine, violations));
    }

    [Test]
    public void ModulesAssembly_WhenLoaded_DoesNotReferenceTemporalio()
    {
        var references = Modules.GetReferencedAssemblies().Select(a => a.Name);

        Assert.That(references, Has.None.StartsWith("Temporalio"));
    }

    [Test]
    public void PublicTypes_OfEachModule_AreOnlyInterfacesRecordsEnumsAndTheRegistration()
    {
        var offenders = Modules.GetExportedTypes()
            .Where(t => ModuleNames.Any(m => t.Namespace?.StartsWith($"Formanova.Modules.{m}", StringComparison.Ordinal) == true))
            .Where(t => !IsAllowedPublic(t))
            .Select(t => t.FullName)
            .ToList();

        Assert.That(offenders, Is.Empty, "Make these internal sealed: " + string.Join(", ", offenders));
    }

    [Test]
    public void FindViolations_WhenAModuleUsesAnotherModulesInternals_ReportsIt()
    {
        var violations = ModuleBoundaries.FindViolations(
            typeof(ModuleTests).Assembly,
            "Formanova.Tests.Architecture.Fixtures",
            ["Alpha", "Beta", "Gamma"]);

        Assert.That(violations, Has.Some.Contains("Fixtures.Alpha.AlphaService uses Formanova.Tests.Architecture.Fixtures.Beta.BetaStore"));
        Assert.That(
            violations,
            Has.Some.Contains("Fixtures.Alpha.AlphaService uses Formanova.Tests.Architecture.Fixtures.Beta.BetaHelper"));
        Assert.That(violations, Has.None.StartsWith("Gamma"));
    }

    // An I<Name>Observer is a module's outbound port: the module calls it, the host implements it with another module
    // (docs/architecture.md, "Module boundaries").
    private static bool IsAllowedPublic(Type type) =>
        (type.IsInterface && type.Name.StartsWith('I')
            && (type.Name.EndsWith("Module", StringComparison.Ordinal) || type.Name.EndsWith("Observer", StringComparison.Ordinal)))
        || type.IsEnum
        || IsRecord(type)
        || (type.IsAbstract && type.IsSealed && type.Name.EndsWith("Module", StringComparison.Ordinal));

    private static bool IsRecord(Type type) =>
        type.GetMethod("<Clone>$") is not null
        || (type.IsValueType && type.GetCustomAttribute<CompilerGeneratedAttribute>() is null
            && type.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is not null);
}
