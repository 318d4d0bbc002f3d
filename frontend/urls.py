from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views
from frontend.forms import SignInForm

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("queue/", views.queue, name="queue"),
    path("projects/<slug:slug>/next/", views.task_next, name="task-next"),
    path("tasks/<int:task_id>/", views.task_editor, name="task-editor"),
]
