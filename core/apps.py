from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        # Set explicitly, not left to Pillow's default: uploads above this are refused as bombs.
        Image.MAX_IMAGE_PIXELS = settings.TESSERA_MAX_IMAGE_PIXELS
