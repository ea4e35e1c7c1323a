"""Model access: profiles, the one module that calls litellm, the budget, prompt templates."""
