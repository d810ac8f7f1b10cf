using System.Globalization;
using System.Reflection;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Formanova.Host.Api.OpenApi;

/// <summary>
/// Writes the rules of a request type's FluentValidation validator into its schema, so the document states the bounds
/// the API enforces. Only unconditional rules on a direct member are read (a rule with <c>When</c>, a rule on a
/// nested path or on each item is left out, as is <c>Must</c>, whose predicate cannot be read):
/// <list type="table">
/// <item><term>NotNull</term><description><c>required</c>, and <c>null</c> no longer allowed</description></item>
/// <item><term>NotEmpty</term><description>the same, plus <c>minLength: 1</c> (strings) or <c>minItems: 1</c> (arrays)</description></item>
/// <item><term>Length, MinimumLength, MaximumLength</term><description><c>minLength</c>, <c>maxLength</c></description></item>
/// <item><term>GreaterThan(OrEqualTo), LessThan(OrEqualTo)</term><description><c>exclusiveMinimum</c>/<c>minimum</c>,
/// <c>exclusiveMaximum</c>/<c>maximum</c> (constant operands only)</description></item>
/// <item><term>InclusiveBetween, ExclusiveBetween</term><description><c>minimum</c>/<c>maximum</c> or their exclusive
/// forms</description></item>
/// <item><term>Matches</term><description><c>pattern</c></description></item>
/// </list>
/// </summary>
internal sealed class ValidatorSchemaTransformer : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is not null || schema.Properties is not { Count: > 0 } properties
            || context.ApplicationServices.GetService(typeof(IValidator<>).MakeGenericType(context.JsonTypeInfo.Type))
                is not IValidator validator)
        {
            return Task.CompletedTask;
        }

        var names = context.JsonTypeInfo.Properties
            .Where(p => p.AttributeProvider is MemberInfo)
            .ToDictionary(p => ((MemberInfo)p.AttributeProvider!).Name, p => p.Name, StringComparer.Ordinal);
        var descriptor = validator.CreateDescriptor();
        foreach (var member in descriptor.GetMembersWithValidators().Select(g => g.Key))
        {
            // The keys are what the global property-name resolver makes of the member (camelCase here, see
            // ValidationConventions), so look them up both ways.
            var name = names.GetValueOrDefault(member, member);
            if (!properties.TryGetValue(name, out var property))
            {
                continue;
            }

            var components = descriptor.GetRulesForMember(member)
                .Where(rule => !rule.HasCondition && !rule.HasAsyncCondition && IsPlainRule(rule))
                .SelectMany(rule => rule.Components)
                .Where(component => !component.HasCondition && !component.HasAsyncCondition)
                .Select(component => component.Validator);
            foreach (var rule in components)
            {
                property = Apply(schema, name, property, rule);
            }

            properties[name] = property;
        }

        return Task.CompletedTask;
    }

    /// <summary>A rule on the member itself: not RuleForEach (its rules hold for each item) and not a nested path.</summary>
    private static bool IsPlainRule(IValidationRule rule) =>
        rule.PropertyName is { } path && !path.Contains('.', StringComparison.Ordinal)
        && !rule.GetType().Name.StartsWith("CollectionPropertyRule", StringComparison.Ordinal);

    private static IOpenApiSchema Apply(OpenApiSchema owner, string name, IOpenApiSchema property, IPropertyValidator rule)
    {
        if (rule is INotNullValidator or INotEmptyValidator)
        {
            owner.Required ??= new HashSet<string>(StringComparer.Ordinal);
            owner.Required.Add(name);
            NullableReferences.Mark(owner, NullableReferences.NotNullKey, name);
            property = NotNull(property);
        }

        if (property is not OpenApiSchema concrete)
        {
            return property;
        }

        switch (rule)
        {
            case INotEmptyValidator when concrete.Type?.HasFlag(JsonSchemaType.Array) == true:
                concrete.MinItems = Math.Max(concrete.MinItems ?? 0, 1);
                break;
            case INotEmptyValidator when concrete.Type?.HasFlag(JsonSchemaType.String) == true:
                concrete.MinLength = Math.Max(concrete.MinLength ?? 0, 1);
                break;
            case ILengthValidator length:
                concrete.MinLength = length.Min > 0 ? length.Min : concrete.MinLength;
                concrete.MaxLength = length.Max > 0 ? length.Max : concrete.MaxLength;
                break;
            case IComparisonValidator { ValueToCompare: { } operand } comparison when Number(operand) is { } value:
                _ = comparison.Comparison switch
                {
                    Comparison.GreaterThan => concrete.ExclusiveMinimum = value,
                    Comparison.GreaterThanOrEqual => concrete.Minimum = value,
                    Comparison.LessThan => concrete.ExclusiveMaximum = value,
                    Comparison.LessThanOrEqual => concrete.Maximum = value,
                    _ => null,
                };
                break;
            case IBetweenValidator between when Number(between.From) is { } from && Number(between.To) is { } to:
                if (rule.Name.StartsWith("Exclusive", StringComparison.Ordinal))
                {
                    (concrete.ExclusiveMinimum, concrete.ExclusiveMaximum) = (from, to);
                }
                else
                {
                    (concrete.Minimum, concrete.Maximum) = (from, to);
                }

                break;
            case IRegularExpressionValidator { Expression: { } pattern }:
                concrete.Pattern = pattern;
                break;
        }

        return concrete;
    }

    /// <summary>The member's schema without <c>null</c>: a nullable reference (<c>oneOf: [null, $ref]</c>) becomes the reference.</summary>
    private static IOpenApiSchema NotNull(IOpenApiSchema property)
    {
        if (property is OpenApiSchema { OneOf: { Count: 2 } choices } && choices.Count(IsNullOnly) == 1)
        {
            return choices.Single(c => !IsNullOnly(c));
        }

        if (property is OpenApiSchema { Type: { } type } concrete && type.HasFlag(JsonSchemaType.Null) && type != JsonSchemaType.Null)
        {
            concrete.Type = type & ~JsonSchemaType.Null;
        }

        return property;
    }

    private static bool IsNullOnly(IOpenApiSchema schema) => schema is OpenApiSchema { Type: JsonSchemaType.Null };

    private static string? Number(object? value) => value switch
    {
        int or long or short or byte or double or float or decimal => Convert.ToString(value, CultureInfo.InvariantCulture),
        _ => null,
    };
}
