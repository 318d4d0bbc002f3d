from django import template

register = template.Library()


@register.filter
def decision_class(decision: str) -> str:
    """The CSS status class of a client decision."""
    return "accepted" if decision == "accept" else "rejected"
