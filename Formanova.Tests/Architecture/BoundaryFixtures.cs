// Deliberately broken modules that the boundary checker must catch (see ModuleTests). Alpha reaches into
// Beta twice: through an injected dependency and through a static call buried in a method body.
namespace Formanova.Tests.Architecture.Fixtures.Beta
{
    internal sealed class BetaStore
    {
        public int Count { get; set; }
    }

    internal static class BetaHelper
    {
        public static int Twice(int value) => value * 2;
    }
}

#pragma warning disable SA1403 // the fixtures are namespaces the boundary test tells apart
namespace Formanova.Tests.Architecture.Fixtures.Alpha
{
    internal sealed class AlphaService(Fixtures.Beta.BetaStore store)
    {
        public int Run() => Fixtures.Beta.BetaHelper.Twice(store.Count);
    }
}

namespace Formanova.Tests.Architecture.Fixtures.Gamma
{
    internal sealed class GammaService
    {
        public static string Describe() => nameof(GammaService);
    }
}
