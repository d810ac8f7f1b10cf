using Formanova.Modules.Data.Transforms;
using Formanova.Modules.Shared.Errors;
using Formanova.Modules.Shared.Rows;

namespace Formanova.Tests.Shared.Rows;

public sealed class ExpressionParserTests
{
    private static readonly ExprColumn[] Columns =
    [
        new("age", ScalarType.Numeric),
        new("home country", ScalarType.Categorical),
        new("member", ScalarType.Boolean),
        new("joined", ScalarType.Datetime),
        new("odd]name", ScalarType.Numeric),
    ];

    private static readonly object?[] Row = [30.0, "FR", true, new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero), 4.0];

    [TestCase("age >= 18 and [home country] == \"FR\"", true)]
    [TestCase("age < 18 or not member", false)]
    [TestCase("!(age == 30) || member == true", true)]
    [TestCase("joined > '2023-06-01'", true)]
    [TestCase("(age + [odd]]name]) * 2 == 68", true)]
    [TestCase("age / 0 == null", true)]
    [TestCase("[home country] != null AND AGE > 1", null)]
    public void Parse_WhenExpressionIsWellTyped_EvaluatesAgainstTheRow(string text, bool? expected)
    {
        if (expected is null)
        {
            // Column names are case-sensitive (arbitrary names may differ only by case); keywords are not.
            Assert.Throws<ModuleException>(() => ExpressionParser.Parse(text, Columns, "expression"));
            return;
        }

        var expr = ExpressionParser.Parse(text, Columns, "expression");

        Assert.That(expr.Evaluate(Row), Is.EqualTo(expected));
    }

    [Test]
    public void Evaluate_WhenAValueIsMissing_ComparisonIsFalseAndArithmeticIsNull()
    {
        object?[] row = [null, null, null, null, null];

        Assert.Multiple(() =>
        {
            Assert.That(ExpressionParser.Parse("age > 1", Columns, "e").Evaluate(row), Is.False);
            Assert.That(ExpressionParser.Parse("age <= 1", Columns, "e").Evaluate(row), Is.False);
            Assert.That(ExpressionParser.Parse("age * 2", Columns, "e").Evaluate(row), Is.Null);
            Assert.That(ExpressionParser.Parse("age == null", Columns, "e").Evaluate(row), Is.True);
        });
    }

    [TestCase("age > \"x\"", "Cannot compare number with string")]
    [TestCase("member + 1", "'+' needs numbers")]
    [TestCase("age and member", "'and' needs true/false")]
    [TestCase("joined > 'not a date'", "is not an ISO 8601 date-time")]
    [TestCase("salary > 1", "'salary', which is not a column")]
    [TestCase("age > ", "ends too early")]
    [TestCase("age > 1 )", "Unexpected ')'")]
    [TestCase("member < true", "Booleans can only be compared")]
    [TestCase("\"open", "not closed")]
    [TestCase("age * 1e999 > 1", "beyond the range of a number")]
    public void Parse_WhenExpressionIsInvalid_ThrowsInvalidWithAReason(string text, string expected)
    {
        var ex = Assert.Throws<ModuleException>(() => ExpressionParser.Parse(text, Columns, "transforms[0].expression"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Kind, Is.EqualTo(ErrorKind.Invalid));
            Assert.That(ex.Errors["transforms[0].expression"][0], Does.Contain(expected));
        });
    }

    [Test]
    public void Unit_WhenSameSeedAndRow_IsStableAndRoughlyUniform()
    {
        var values = Enumerable.Range(1, 10_000).Select(i => TransformCompiler.Unit(7, i)).ToList();
        var again = Enumerable.Range(1, 10_000).Select(i => TransformCompiler.Unit(7, i)).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(again, Is.EqualTo(values));
            Assert.That(TransformCompiler.Unit(7, 123), Is.Not.EqualTo(TransformCompiler.Unit(8, 123)));
            Assert.That(values.Count(v => v < 0.2), Is.InRange(1800, 2200));
        });
    }
}
