using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using FluentValidation;
using FluentValidation.Internal;

namespace Formanova.Modules.Shared.Api;

internal static class ValidationConventions
{
    /// <summary>
    /// FluentValidation reports C# member paths ("Columns[0].Name"), but clients sent camelCase JSON
    /// ("columns[0].name"); error keys must name the field the client wrote.
    /// </summary>
    public static void Apply()
    {
        ValidatorOptions.Global.PropertyNameResolver = (_, member, expression) => CamelCasePath(expression, member);

        // After a rule's first failure the rest of its chain would only run on a value already known to be bad
        // (often null), so stop there: one clear reason per field, and no validator crashing on a null.
        ValidatorOptions.Global.DefaultRuleLevelCascadeMode = CascadeMode.Stop;
    }

    private static string? CamelCasePath(LambdaExpression? expression, MemberInfo? member)
    {
        var chain = expression is null ? null : PropertyChain.FromExpression(expression);
        var path = chain is { Count: > 0 } ? chain.ToString() : member?.Name;
        return path is null ? null : string.Join('.', path.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName));
    }
}
