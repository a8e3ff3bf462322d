"""The built-in recipes, one module each (registered in :data:`tenken.data.synth.recipe.RECIPES`)."""
